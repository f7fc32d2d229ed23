"""Backport notifications processed in event-number order, once: out-of-order arrivals wait for the late ones,
duplicates are dropped, and holes (seen in the numbers or announced by a heartbeat) are filled through the EHR's
``$events``. The EHR is a loopback FHIR server serving the focus resources; both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.sekmet import MisbehavingEhr, MisbehavingServer, crm_settings, ehr_post, job_rows
from tests.fixtures.servers import RunningServer

from fhircrm.config import Settings
from fhircrm.jobs.queue import utcnow
from fhircrm.jobs.runner import JobRunner
from fhircrm.jobs.tables import job
from fhircrm.runtime import Runtime
from fhircrm.subscriptions import listener_state
from fhircrm.subscriptions.backport import Event, notification_bundle, status_parameters
from fhircrm.subscriptions.hook_secrets import secret_for
from fhircrm.worker import build_wiring

NAME = "topic-appointment-booked"
TOPIC = "https://fhircrm.dev/SubscriptionTopic/appointment-booked"


def appointment(n: int) -> dict:
    return {
        "resourceType": "Appointment",
        "id": f"a{n}",
        "status": "booked",
        "meta": {"versionId": "1", "lastUpdated": f"2030-01-01T08:00:0{n}Z"},
        "participant": [{"actor": {"reference": f"Patient/p{n}"}, "status": "accepted"}],
    }


@dataclass
class Listener:
    api: httpx.AsyncClient
    settings: Settings
    engine: AsyncEngine
    runner: JobRunner
    ehr: MisbehavingServer

    def bundle(self, kind: str, since: int, *numbers: int) -> dict:
        sub = {"id": "s1", "criteria": TOPIC, "status": "active"}
        events = [Event(n, f"{self.ehr.base_url}/Appointment/a{n}") for n in numbers]
        return notification_bundle(status_parameters(sub, self.ehr.base_url, kind, since, events))

    async def notify(self, *numbers: int) -> None:
        await self.send(self.bundle("event-notification", max(numbers), *numbers))

    async def send(self, bundle: dict) -> None:
        headers = {self.settings.ehr_notification_header: secret_for(self.settings, NAME)}
        response = await self.api.post(f"/ehr/notifications/{NAME}", json=bundle, headers=headers)
        assert response.status_code == 200, response.text
        await self.runner.drain()

    async def run_waiting_jobs(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(job).where(job.c.status == "pending").values(run_at=utcnow()))
        await self.runner.drain()

    async def booked(self) -> list[str]:
        """Subjects of the AppointmentBooked events, in the order they were emitted."""
        rows = await job_rows(self.engine, "domain-event")
        return [r.payload["subject"] for r in rows if r.payload["name"] == "AppointmentBooked"]

    def fetches(self, path: str) -> int:
        return sum(1 for seen, _ in self.ehr.app.seen if seen == path)


async def _listener(engine: AsyncEngine, url: str, ehr: MisbehavingServer, grace: float) -> AsyncIterator[Listener]:
    from fhircrm.app import create_app

    if isinstance(ehr.app, MisbehavingEhr):
        for n in range(1, 6):
            ehr.app.resources[f"Appointment/a{n}"] = appointment(n)
    settings = crm_settings(url, ehr_base_url=ehr.base_url, ehr_gap_grace_seconds=grace, ehr_max_retries=0)
    app = create_app(settings, migrate=False)
    app.state.engine = engine
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api,
        httpx.AsyncClient() as http,
    ):
        registry = build_wiring(Runtime(settings, engine, http)).jobs
        yield Listener(api, settings, engine, JobRunner(engine, registry), ehr)


@pytest.fixture
async def patient_listener(
    clean_engine: AsyncEngine, database_url: str, misbehaving_ehr: MisbehavingServer
) -> AsyncIterator[Listener]:
    """A listener that waits long for late notifications (the grace period never runs out in a test)."""
    async for listener in _listener(clean_engine, database_url, misbehaving_ehr, grace=600):
        yield listener


@pytest.fixture
async def hasty_listener(
    clean_engine: AsyncEngine, database_url: str, misbehaving_ehr: MisbehavingServer
) -> AsyncIterator[Listener]:
    """A listener that fills any hole at once (no grace period)."""
    async for listener in _listener(clean_engine, database_url, misbehaving_ehr, grace=0):
        yield listener


def serve_events(listener: Listener, since: int, *numbers: int) -> None:
    """The EHR offers ``$events``: it answers with these events, their resources included."""
    bundle = listener.bundle("query-event", since, *numbers)
    bundle["entry"] += [{"resource": appointment(n)} for n in numbers]
    listener.ehr.app.resources["Subscription/s1/$events"] = bundle


async def test_an_event_arriving_before_an_earlier_one_waits_and_follows_it(patient_listener: Listener) -> None:
    listener = patient_listener
    await listener.notify(1)
    await listener.notify(3)
    assert await listener.booked() == ["Appointment/a1"]  # 3 waits for 2
    await listener.notify(2)
    await listener.run_waiting_jobs()
    assert await listener.booked() == ["Appointment/a1", "Appointment/a2", "Appointment/a3"]


async def test_waiting_for_a_late_event_uses_no_retry_attempts(patient_listener: Listener) -> None:
    listener = patient_listener
    await listener.notify(1)
    await listener.notify(3)
    await listener.run_waiting_jobs()
    await listener.run_waiting_jobs()
    rows = await job_rows(listener.engine, "ehr-notification")
    assert {(r.status, r.attempts) for r in rows} == {("done", 1), ("pending", 0)}


async def test_an_event_number_processed_before_is_dropped(patient_listener: Listener) -> None:
    listener = patient_listener
    await listener.notify(1)
    await listener.notify(1, 2)  # a retried notification carrying 1 again
    assert listener.fetches("Appointment/a1") == 1
    assert await listener.booked() == ["Appointment/a1", "Appointment/a2"]


async def test_a_hole_is_filled_through_the_ehrs_events_operation_before_later_events(
    hasty_listener: Listener,
) -> None:
    listener = hasty_listener
    serve_events(listener, 5, 3, 4)
    await listener.notify(1)
    await listener.notify(2)
    await listener.notify(5)
    assert listener.fetches("Subscription/s1/$events") == 1
    assert await listener.booked() == [f"Appointment/a{n}" for n in range(1, 6)]


async def test_a_late_notification_for_a_filled_hole_changes_nothing(hasty_listener: Listener) -> None:
    listener = hasty_listener
    serve_events(listener, 3, 2)
    await listener.notify(1)
    await listener.notify(3)
    await listener.notify(2)  # arrives after $events filled it
    assert listener.fetches("Appointment/a2") == 0
    assert await listener.booked() == ["Appointment/a1", "Appointment/a2", "Appointment/a3"]


async def test_a_heartbeat_ahead_of_the_processed_events_fills_the_gap(hasty_listener: Listener) -> None:
    listener = hasty_listener
    serve_events(listener, 3, 2, 3)
    await listener.notify(1)
    await listener.send(listener.bundle("heartbeat", 3))
    await listener.run_waiting_jobs()
    assert await listener.booked() == ["Appointment/a1", "Appointment/a2", "Appointment/a3"]
    async with listener.engine.begin() as conn:
        assert (await listener_state.load(conn, NAME)).last_event == 3


async def test_a_heartbeat_matching_the_processed_events_fills_nothing(hasty_listener: Listener) -> None:
    listener = hasty_listener
    await listener.notify(1, 2)
    await listener.send(listener.bundle("heartbeat", 2))
    assert await job_rows(listener.engine, "ehr-gap-fill") == []


async def test_a_handshake_records_the_ehrs_subscription_and_its_status(hasty_listener: Listener) -> None:
    listener = hasty_listener
    handshake = listener.bundle("handshake", 0)
    await listener.send(handshake)
    async with listener.engine.begin() as conn:
        state = await listener_state.load(conn, NAME)
    assert (state.ehr_subscription, state.last_status, state.last_event) == (
        f"{listener.ehr.base_url}/Subscription/s1",
        "active",
        0,
    )


async def test_a_re_registered_subscription_counts_its_events_from_one_again(hasty_listener: Listener) -> None:
    listener = hasty_listener
    await listener.notify(1, 2)
    renewed = listener.bundle("event-notification", 1, 3)
    for p in renewed["entry"][0]["resource"]["parameter"]:
        if p["name"] == "subscription":
            p["valueReference"]["reference"] = f"{listener.ehr.base_url}/Subscription/s2"
        if p["name"] == "notification-event":
            p["part"][0]["valueString"] = "1"
    await listener.send(renewed)
    assert await listener.booked() == ["Appointment/a1", "Appointment/a2", "Appointment/a3"]


def sekmet_bundle(ehr: RunningServer, booked: list[dict], *numbers: int) -> dict:
    """A notification as SEKMET would send it for events ``numbers`` (focus: the n-th booked Appointment)."""
    events = [Event(n, f"{ehr.base_url}/Appointment/{booked[n - 1]['id']}") for n in numbers]
    sub = {"id": "no-such-subscription", "criteria": TOPIC, "status": "active"}
    return notification_bundle(status_parameters(sub, ehr.base_url, "event-notification", max(numbers), events))


@pytest.mark.slow
async def test_a_hole_is_filled_by_a_resync_where_the_ehr_offers_no_events_operation(
    shared_ehr: RunningServer, clean_engine: AsyncEngine, database_url: str
) -> None:
    """SEKMET has no ``$events``: the changes behind events 3 and 4 come from a ``_lastUpdated`` resync."""
    ehr = MisbehavingServer(shared_ehr.base_url, None)  # type: ignore[arg-type]
    async for listener in _listener(clean_engine, database_url, ehr, grace=0):
        new = [{k: v for k, v in appointment(n).items() if k not in ("id", "meta")} for n in range(1, 6)]
        booked = [await ehr_post(shared_ehr, resource) for resource in new]
        for numbers in [(1,), (2,), (5,), (3,)]:  # 3 and 4 lost; 3 turns up late, after the resync
            await listener.send(sekmet_bundle(shared_ehr, booked, *numbers))
        assert await listener.booked() == [f"Appointment/{b['id']}" for b in booked]
