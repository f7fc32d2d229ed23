"""Wire no-show risk into the worker: every booked (or moved) Appointment gets its RiskAssessment."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.clock import current_time
from fhircrm.events import DomainEvent, EventName
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.referenced import read_reference
from fhircrm.noshow.assess import assess_appointment, deferred_assessments
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings

    async def assess(conn: AsyncConnection, events: list[DomainEvent]) -> None:
        store = open_store(conn, settings, policy=ServiceScope("noshow"))
        now = current_time(settings)
        async with deferred_assessments(store):  # one write for the whole batch's RiskAssessments
            for event in events:
                appointment = await read_reference(store, event.subject)
                if appointment and appointment.get("status") == "booked":
                    await assess_appointment(store, appointment, settings=settings, now=now)

    wiring.consumers.subscribe_batch(EventName.APPOINTMENT_BOOKED, assess)
    wiring.consumers.subscribe_batch(EventName.APPOINTMENT_RESCHEDULED, assess)
