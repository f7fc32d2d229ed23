"""Wire segments into the worker: a scheduled refresh of every segment, and a patient's refresh on the events
that change what rules look at (a visit, a no-show, a booking, consent or demographics)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.clock import current_time as clock_now
from fhircrm.events import DomainEvent, EventName
from fhircrm.fhir.access import ServiceScope
from fhircrm.runtime import Runtime
from fhircrm.segments.refresh import refresh_all, refresh_patient
from fhircrm.stores import open_store
from fhircrm.wiring import Wiring

TRIGGERS = (
    EventName.CONSENT_CHANGED,
    EventName.VISIT_COMPLETED,
    EventName.APPOINTMENT_NO_SHOW,
    EventName.APPOINTMENT_BOOKED,
    EventName.APPOINTMENT_CANCELLED,
    EventName.PATIENT_UPDATED,
)


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings

    async def on_event(conn: AsyncConnection, event: DomainEvent) -> None:
        if event.patient:
            await refresh_patient(
                open_store(conn, settings, policy=ServiceScope("segments")), event.patient, clock_now(settings)
            )

    async def scheduled(conn: AsyncConnection) -> None:
        await refresh_all(open_store(conn, settings, policy=ServiceScope("segments")), clock_now(settings))

    for name in TRIGGERS:
        wiring.consumers.subscribe(name, on_event)
    wiring.every("segments.refresh", settings.segments_refresh_seconds, scheduled)
