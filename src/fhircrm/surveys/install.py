"""Wire surveys into the worker: SMS replies that answer a survey, and service recovery on every answer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.clock import current_time
from fhircrm.errors import NotFound
from fhircrm.events import DomainEvent, EventConsumers, EventName
from fhircrm.fhir.access import ServiceScope
from fhircrm.jobs.registry import JobRegistry
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.surveys.recovery import needs_recovery, open_recovery_task
from fhircrm.surveys.replies import answer_from_reply


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    settings = runtime.settings

    async def on_reply(conn: AsyncConnection, event: DomainEvent) -> None:
        store = open_store(conn, settings, policy=ServiceScope("surveys"))
        try:
            reply = (await store.read(*event.subject.split("/", 1))).content
        except NotFound:
            return
        if reply:
            await answer_from_reply(store, reply, current_time(settings))

    async def on_answer(conn: AsyncConnection, event: DomainEvent) -> None:
        store = open_store(conn, settings, policy=ServiceScope("surveys"))
        try:
            response = (await store.read(*event.subject.split("/", 1))).content
        except NotFound:
            return
        if response and (reason := needs_recovery(response, settings)):
            await open_recovery_task(store, response, reason, current_time(settings))

    consumers.subscribe(EventName.MESSAGE_RECEIVED, on_reply)
    consumers.subscribe(EventName.SURVEY_ANSWERED, on_answer)
