"""Wire surveys into the worker: a journey's survey invitation when its timer is due (timer kind ``survey``),
SMS replies that answer a survey, and service recovery on every answer."""

from __future__ import annotations

from fhircrm.clock import current_time
from fhircrm.events import DomainEvent, EventName
from fhircrm.fhir.store import FhirStore
from fhircrm.runtime import Runtime
from fhircrm.surveys.planned import survey_dispatcher
from fhircrm.surveys.recovery import needs_recovery, open_recovery_task
from fhircrm.surveys.replies import answer_from_reply
from fhircrm.timers.resources import SURVEY
from fhircrm.wiring import Wiring, about_subject


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings
    wiring.timers.register(SURVEY, survey_dispatcher(settings))

    async def on_reply(store: FhirStore, reply: dict, _event: DomainEvent) -> None:
        await answer_from_reply(store, reply, current_time(settings))

    async def on_answer(store: FhirStore, response: dict, _event: DomainEvent) -> None:
        if reason := needs_recovery(response, settings):
            await open_recovery_task(store, response, reason, current_time(settings))

    wiring.consumers.subscribe(EventName.MESSAGE_RECEIVED, about_subject(settings, "surveys", on_reply))
    wiring.consumers.subscribe(EventName.SURVEY_ANSWERED, about_subject(settings, "surveys", on_answer))
