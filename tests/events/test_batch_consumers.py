"""Batch consumers: a claimed batch's matching events arrive in one call, in order (one write for all of them);
a job handled alone still reaches them, as a batch of one."""

from __future__ import annotations

from fhircrm.events import DomainEvent, EventConsumers, EventName
from fhircrm.jobs.queue import Job


def job(number: int, name: EventName) -> Job:
    event = DomainEvent(name=name, subject=f"Appointment/a{number}", version="1", patient=None)
    return Job(number, "domain-event", event.to_json(), 1, None)


async def test_a_batch_consumer_gets_the_matching_events_of_a_batch_in_one_call_in_order() -> None:
    consumers, calls = EventConsumers(), []

    async def booked(_conn, events: list[DomainEvent]) -> None:
        calls.append([e.subject for e in events])

    consumers.subscribe_batch(EventName.APPOINTMENT_BOOKED, booked)
    jobs = [
        job(1, EventName.APPOINTMENT_BOOKED),
        job(2, EventName.VISIT_COMPLETED),
        job(3, EventName.APPOINTMENT_BOOKED),
    ]
    await consumers.dispatch_batch(None, jobs)  # type: ignore[arg-type]  # the consumer never touches the connection
    assert calls == [["Appointment/a1", "Appointment/a3"]]


async def test_a_job_dispatched_alone_reaches_batch_consumers_as_a_batch_of_one() -> None:
    consumers, calls = EventConsumers(), []

    async def everything(_conn, events: list[DomainEvent]) -> None:
        calls.append(len(events))

    consumers.subscribe_batch(None, everything)
    await consumers.dispatch(None, job(1, EventName.VISIT_COMPLETED))  # type: ignore[arg-type]
    assert calls == [1]
