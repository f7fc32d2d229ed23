"""Wire education into the worker: content follows visits and bookings (see triggers)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.education.triggers import on_event
from fhircrm.events import DomainEvent, EventName
from fhircrm.fhir.access import ServiceScope
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings

    async def consume(conn: AsyncConnection, event: DomainEvent) -> None:
        await on_event(open_store(conn, settings, policy=ServiceScope("education")), event, settings)

    wiring.consumers.subscribe(EventName.VISIT_COMPLETED, consume)
    wiring.consumers.subscribe(EventName.APPOINTMENT_BOOKED, consume)
