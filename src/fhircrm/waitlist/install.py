"""Wire the waitlist into the worker: the sweep dispatches hold expiries (offers come from the recovery
journey's offer-waitlist step); a patient's yes to an offer (MessageReceived) books the slot."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.clock import current_time
from fhircrm.errors import FhircrmError
from fhircrm.events import DomainEvent, EventConsumers, EventName
from fhircrm.fhir.access import ServiceScope
from fhircrm.jobs.registry import JobRegistry
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.timers.sweep import DISPATCHERS
from fhircrm.waitlist.offers import HOLD_EXPIRY, hold_expiry_dispatcher
from fhircrm.waitlist.replies import accept_from_reply


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    DISPATCHERS.register(HOLD_EXPIRY, hold_expiry_dispatcher(runtime.settings))

    settings = runtime.settings

    async def on_reply(conn: AsyncConnection, event: DomainEvent) -> None:
        store = open_store(conn, settings, policy=ServiceScope("waitlist"))
        try:
            reply = (await store.read(*event.subject.split("/", 1))).content
        except FhircrmError:
            return
        if reply:
            await accept_from_reply(store, reply, now=current_time(settings))

    consumers.subscribe(EventName.MESSAGE_RECEIVED, on_reply)
