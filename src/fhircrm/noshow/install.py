"""Wire no-show risk into the worker: every booked (or moved) Appointment gets its RiskAssessment."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.clock import current_time
from fhircrm.errors import FhircrmError
from fhircrm.events import DomainEvent, EventConsumers, EventName
from fhircrm.fhir.access import ServiceScope
from fhircrm.jobs.registry import JobRegistry
from fhircrm.noshow.assess import assess_appointment, deferred_assessments
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    settings = runtime.settings

    async def assess(conn: AsyncConnection, events: list[DomainEvent]) -> None:
        store = open_store(conn, settings, policy=ServiceScope("noshow"))
        now = current_time(settings)
        async with deferred_assessments(store):  # one write for the whole batch's RiskAssessments
            for event in events:
                try:
                    appointment = (await store.read(*event.subject.split("/", 1))).content
                except FhircrmError:
                    continue
                if appointment and appointment.get("status") == "booked":
                    await assess_appointment(store, appointment, settings=settings, now=now)

    consumers.subscribe_batch(EventName.APPOINTMENT_BOOKED, assess)
    consumers.subscribe_batch(EventName.APPOINTMENT_RESCHEDULED, assess)
