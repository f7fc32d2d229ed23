"""Events travel through the outbox: once per change, to every consumer, never for a rolled-back cause."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhircrm.events import EVENT_JOB, DomainEvent, EventConsumers, EventName, emit
from fhircrm.jobs import JobRegistry
from fhircrm.jobs.runner import JobRunner


def booked(version: str = "1") -> DomainEvent:
    return DomainEvent(
        name=EventName.APPOINTMENT_BOOKED, subject="Appointment/a1", version=version, patient="Patient/p1"
    )


def runner_for(consumers: EventConsumers, engine: AsyncEngine) -> JobRunner:
    registry = JobRegistry()
    registry.register(EVENT_JOB, consumers.dispatch, batch_size=50)
    return JobRunner(engine, registry)


async def test_an_event_reaches_its_consumers_and_catch_all_consumers_once(clean_engine: AsyncEngine) -> None:
    seen: list[tuple[str, str]] = []

    async def journeys(_conn: AsyncConnection, event: DomainEvent) -> None:
        seen.append(("journeys", event.name))

    async def audit(_conn: AsyncConnection, event: DomainEvent) -> None:
        seen.append(("all", event.name))

    consumers = EventConsumers()
    consumers.subscribe(EventName.APPOINTMENT_BOOKED, journeys)
    consumers.subscribe(EventName.APPOINTMENT_CANCELLED, journeys)
    consumers.subscribe(None, audit)
    async with clean_engine.begin() as conn:
        assert await emit(conn, booked())
        assert not await emit(conn, booked())  # the same change reported twice is one event
    await runner_for(consumers, clean_engine).drain()
    assert seen == [("journeys", "AppointmentBooked"), ("all", "AppointmentBooked")]


async def test_an_event_whose_cause_rolled_back_is_never_seen(clean_engine: AsyncEngine) -> None:
    seen: list[DomainEvent] = []

    async def consumer(_conn: AsyncConnection, event: DomainEvent) -> None:
        seen.append(event)

    consumers = EventConsumers()
    consumers.subscribe(None, consumer)
    with pytest.raises(RuntimeError):
        async with clean_engine.begin() as conn:
            await emit(conn, booked())
            raise RuntimeError("the write failed")
    await runner_for(consumers, clean_engine).drain()
    assert seen == []


async def test_booking_an_appointment_through_the_api_emits_appointment_booked_once(client, clean_engine) -> None:
    seen: list[DomainEvent] = []

    async def consumer(_conn: AsyncConnection, event: DomainEvent) -> None:
        seen.append(event)

    consumers = EventConsumers()
    consumers.subscribe(None, consumer)
    appointment = {
        "resourceType": "Appointment",
        "status": "proposed",
        "start": "2026-12-01T09:00:00Z",  # booked needs both (R4 app-3)
        "end": "2026-12-01T09:20:00Z",
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "needs-action"}],
    }
    created = (await client.post("/Appointment", json=appointment)).json()
    booked = {**created, "status": "booked"}
    assert (await client.put(f"/Appointment/{created['id']}", json=booked)).status_code == 200
    assert (await client.put(f"/Appointment/{created['id']}", json=booked)).status_code == 200  # no change of status
    await runner_for(consumers, clean_engine).drain()
    assert [(e.name, e.subject, e.version, e.patient) for e in seen] == [
        (EventName.APPOINTMENT_BOOKED, f"Appointment/{created['id']}", "2", "Patient/p1")
    ]
