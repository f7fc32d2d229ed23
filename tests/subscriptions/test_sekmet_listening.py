"""fhircrm registers its Subscriptions on SEKMET (the EHR stand-in); bookings and cancellations made on SEKMET
reach fhircrm's store and domain events, for criteria-based and topic-based (backport) Subscriptions."""

from __future__ import annotations

import pytest
from tests.fixtures.sekmet import Stack, domain_events, ehr_post, ehr_put, wait_for
from tests.fixtures.stores import TESTS

from fhircrm.errors import NotFound
from fhircrm.stores import open_store
from fhircrm.subscriptions import registration, watch

pytestmark = pytest.mark.slow
DEADLINE = 2.0  # the promise: EHR commit to fhircrm domain event within 2 s


async def _local(stack: Stack, resource_type: str, fhir_id: str) -> dict | None:
    async with stack.engine.connect() as conn:
        try:
            return (await open_store(conn, stack.settings, policy=TESTS).read(resource_type, fhir_id)).content
        except NotFound:
            return None


async def _book_then_cancel(stack: Stack) -> None:
    patient = await ehr_post(stack.ehr, {"resourceType": "Patient", "name": [{"family": "Test"}]})
    appointment = await ehr_post(
        stack.ehr,
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-02T09:00:00Z",
            "end": "2030-01-02T09:20:00Z",
            "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"}],
        },
    )
    subject = f"Appointment/{appointment['id']}"

    async def booked() -> bool:
        local = await _local(stack, "Appointment", appointment["id"])
        return bool(
            local and local["status"] == "booked" and await domain_events(stack.engine, "AppointmentBooked", subject)
        )

    await wait_for(booked, within=DEADLINE)
    await ehr_put(stack.ehr, {**appointment, "status": "cancelled"})

    async def cancelled() -> bool:
        local = await _local(stack, "Appointment", appointment["id"])
        return bool(
            local
            and local["status"] == "cancelled"
            and await domain_events(stack.engine, "AppointmentCancelled", subject)
        )

    await wait_for(cancelled, within=DEADLINE)
    assert len(await domain_events(stack.engine, "AppointmentBooked", subject)) == 1


async def test_criteria_subscriptions_bring_a_booking_and_its_cancellation_within_two_seconds(stack: Stack) -> None:
    names = ["criteria-appointment-booked", "criteria-appointment-cancelled"]
    registered = await registration.register(stack.ehr_client(), stack.settings, kind="criteria", names=names)
    assert {(r.name, r.status) for r in registered} == {(n, "active") for n in names}
    await _book_then_cancel(stack)


async def test_topic_subscriptions_bring_a_booking_and_its_cancellation_within_two_seconds(stack: Stack) -> None:
    names = ["topic-appointment-booked", "topic-appointment-cancelled"]
    client = stack.ehr_client()
    await registration.register(client, stack.settings, kind="topic-based", names=names)

    async def active() -> bool:
        return {r.status for r in await registration.list_ours(client, stack.settings)} == {"active"}

    await wait_for(active, within=10, interval=0.2)
    await _book_then_cancel(stack)


async def test_registering_twice_creates_no_second_subscription(stack: Stack) -> None:
    client = stack.ehr_client()
    first = await registration.register(client, stack.settings, kind="criteria")
    second = await registration.register(client, stack.settings, kind="criteria")
    assert [r.id for r in second] == [r.id for r in first]
    assert len(first) == 8


async def test_delete_removes_only_our_subscriptions(stack: Stack) -> None:
    client = stack.ehr_client()
    await registration.register(client, stack.settings, kind="criteria", names=["criteria-patient-updated"])
    theirs = await ehr_post(
        stack.ehr,
        {
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "someone else",
            "criteria": "Patient",
            "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/elsewhere"},
        },
    )
    assert await registration.delete(client, stack.settings) == ["criteria-patient-updated"]
    assert await registration.list_ours(client, stack.settings) == []
    assert await client.read("Subscription", theirs["id"]) is not None


async def test_registration_keeps_a_topic_subscription_once_its_handshake_reaches_the_listener(stack: Stack) -> None:
    """SEKMET advertises topics and proves them: its handshake reaches our listener, so the topic kind stays."""
    outcomes = await registration.register(
        stack.ehr_client(), stack.settings, names=["appointment-booked"], engine=stack.engine
    )
    assert [(o.name, o.kind, o.action) for o in outcomes] == [("topic-appointment-booked", "topic-based", "created")]
    async with stack.engine.connect() as conn:
        [row] = await watch.rows(conn)
    assert (row.name, row.kind) == ("topic-appointment-booked", "topic-based")
    assert row.handshake_at is not None
    assert [r.name for r in await registration.list_ours(stack.ehr_client(), stack.settings)] == [row.name]
