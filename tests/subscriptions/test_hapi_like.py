"""fhircrm beside an EHR that behaves like HAPI FHIR (tests/fixtures/hapi_like.py): registration HAPI accepts,
deletes that reach fhircrm, an event counter that starts again at 1, and the watch that lets nothing go silently.

fhircrm runs as a real server (PostgreSQL, embedded worker) and the HAPI-like EHR notifies it over loopback.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.hapi_like import BACKPORT_PROFILE, SEND_DELETES, HapiLikeServer, hapi_like_server
from tests.fixtures.sekmet import crm_overrides, domain_events, wait_for
from tests.fixtures.servers import fhircrm_server
from tests.fixtures.stores import TESTS

from fhircrm.config import Settings
from fhircrm.db import create_engine
from fhircrm.ehr.client import FhirpyEhrClient
from fhircrm.errors import Gone, NotFound
from fhircrm.stores import open_store
from fhircrm.subscriptions import registration, watch
from fhircrm.subscriptions.tables import ehr_subscription_watch

pytestmark = pytest.mark.slow
BOOKED_TOPIC = "https://fhircrm.dev/SubscriptionTopic/appointment-booked"
WITHIN = 10.0  # seconds a notification may take through HAPI-like delivery, the listener and the worker


def _booked(resource: dict, interaction: str) -> bool:
    return resource["resourceType"] == "Appointment" and resource.get("status") == "booked" and interaction != "delete"


@dataclass
class Stack:
    ehr: HapiLikeServer
    settings: Settings
    engine: AsyncEngine

    def client(self) -> FhirpyEhrClient:
        return FhirpyEhrClient(self.ehr.base_url, timeout=10, max_retries=0)

    async def ehr_write(self, method: str, path: str, resource: dict | None = None) -> dict:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.request(method, f"{self.ehr.base_url}/{path}", json=resource)
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def book(self, patient: str) -> dict:
        appointment = {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-02T09:00:00Z",
            "end": "2030-01-02T09:20:00Z",
            "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}],
        }
        return await self.ehr_write("POST", "Appointment", appointment)

    async def local(self, resource_type: str, fhir_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            try:
                return (await open_store(conn, self.settings, policy=TESTS).read(resource_type, fhir_id)).content
            except (NotFound, Gone):
                return None

    async def watch_round(self, **overrides: object) -> watch.Report:
        settings = self.settings.model_copy(update=overrides)
        async with self.engine.begin() as conn:
            return await watch.run(conn, self.client(), settings)


@contextlib.contextmanager
def _servers(database_url: str, **ehr_options: object) -> Iterator[tuple[HapiLikeServer, Settings]]:
    with hapi_like_server(**ehr_options) as ehr:
        overrides = crm_overrides(ehr.base_url, ehr_handshake_seconds=1, ehr_watch_seconds=0)
        with fhircrm_server(database_url, **overrides) as crm:
            yield ehr, Settings(environment="test", database_url=database_url, base_url=crm.base_url, **overrides)


async def _stack(database_url: str, **ehr_options: object) -> AsyncIterator[Stack]:
    with _servers(database_url, **ehr_options) as (ehr, settings):
        engine = create_engine(database_url)
        try:
            yield Stack(ehr, settings, engine)
        finally:
            await engine.dispose()


@pytest.fixture
async def stack(pg_database_url: str) -> AsyncIterator[Stack]:
    """HAPI-like R4 (no topic delivery) and fhircrm on a fresh PostgreSQL database."""
    async for s in _stack(pg_database_url):
        yield s


@pytest.fixture
async def topic_stack(pg_database_url: str) -> AsyncIterator[Stack]:
    """HAPI-like as an R4B/R5 image: it delivers topic notifications (and never shakes hands)."""
    async for s in _stack(pg_database_url, deliver_topics=True, topic_matchers={BOOKED_TOPIC: _booked}):
        yield s


async def test_registration_on_hapi_r4_gives_every_event_a_criteria_subscription_with_delete_messages(
    stack: Stack,
) -> None:
    outcomes = await registration.register(stack.client(), stack.settings, engine=stack.engine)
    assert {(o.kind, o.action) for o in outcomes} == {("criteria", "created")}  # no topic: R4 HAPI has none
    assert len(outcomes) == 8
    subs = [r for (t, _), r in stack.ehr.app.resources.items() if t == "Subscription"]
    assert len(subs) == 8
    assert all(BACKPORT_PROFILE not in (s.get("meta") or {}).get("profile", []) for s in subs)
    assert all({"url": SEND_DELETES, "valueBoolean": True} in s["channel"]["extension"] for s in subs)
    async with stack.engine.connect() as conn:
        kinds = {r.name: r.kind for r in await watch.rows(conn)}
    assert kinds == {o.name: "criteria" for o in outcomes}

    again = await registration.register(stack.client(), stack.settings, engine=stack.engine)
    assert [(o.name, o.action, o.id) for o in again] == [(o.name, "existing", o.id) for o in outcomes]


async def test_a_booking_and_its_delete_in_the_ehr_reach_fhircrms_copy(stack: Stack) -> None:
    await registration.register(stack.client(), stack.settings, names=["appointment-booked"], engine=stack.engine)
    patient = await stack.ehr_write("POST", "Patient", {"resourceType": "Patient", "name": [{"family": "Doe"}]})
    appointment = await stack.book(patient["id"])
    subject = f"Appointment/{appointment['id']}"

    async def mirrored() -> bool:
        return await stack.local("Appointment", appointment["id"]) is not None

    await wait_for(mirrored, within=WITHIN)
    assert len(await domain_events(stack.engine, "AppointmentBooked", subject)) == 1

    await stack.ehr_write("DELETE", subject)

    async def gone() -> bool:
        return await stack.local("Appointment", appointment["id"]) is None

    await wait_for(gone, within=WITHIN)
    deletes = [d for d in stack.ehr.app.deliveries if d.method == "DELETE"]
    assert [(d.url.split("/ehr/notifications/")[1], d.status) for d in deletes] == [
        (f"criteria-appointment-booked/{subject}", 200)
    ]


async def test_a_delete_no_subscription_was_told_of_is_found_in_the_ehrs_history(stack: Stack) -> None:
    """HAPI notifies a delete only where the deleted version matched a Subscription's criteria: a proposed
    appointment matches none of ours, so only the ``_history`` sweep sees it go."""
    await registration.register(stack.client(), stack.settings, names=["appointment-booked"], engine=stack.engine)
    patient = await stack.ehr_write("POST", "Patient", {"resourceType": "Patient"})
    proposed = await stack.ehr_write(
        "POST",
        "Appointment",
        {
            "resourceType": "Appointment",
            "status": "proposed",
            "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "needs-action"}],
        },
    )
    async with stack.engine.begin() as conn:  # mirrored before (as the watch's polling would)
        from fhircrm.ehr.polling import sync_type

        await sync_type(conn, stack.client(), stack.settings, "Appointment", since="2000-01-01T00:00:00Z")
    assert await stack.local("Appointment", proposed["id"]) is not None

    await stack.ehr_write("DELETE", f"Appointment/{proposed['id']}")
    assert not [d for d in stack.ehr.app.deliveries if d.method == "DELETE"]
    report = await stack.watch_round()
    assert report.deletes == 1
    assert await stack.local("Appointment", proposed["id"]) is None


async def test_an_event_counter_that_starts_again_after_an_ehr_restart_loses_nothing(topic_stack: Stack) -> None:
    stack = topic_stack
    names = ["topic-appointment-booked"]  # asked for: HAPI sends no handshake, so auto would not keep it
    [outcome] = await registration.register(stack.client(), stack.settings, kind="topic-based", names=names)
    assert outcome.action == "created"
    patient = await stack.ehr_write("POST", "Patient", {"resourceType": "Patient"})
    booked = []

    async def all_booked() -> bool:
        for appointment in booked:
            subject = f"Appointment/{appointment['id']}"
            if len(await domain_events(stack.engine, "AppointmentBooked", subject)) != 1:
                return False
        return True

    for _ in range(2):
        booked.append(await stack.book(patient["id"]))
    await wait_for(all_booked, within=WITHIN)

    stack.ehr.app.restart()  # its counters start again: the next event is number 1 once more
    for _ in range(2):
        booked.append(await stack.book(patient["id"]))
    await wait_for(all_booked, within=WITHIN)

    sent = [d for d in stack.ehr.app.deliveries if d.method == "POST"]
    numbers = [
        p["part"][0]["valueString"] for d in sent for p in d.body["entry"][0]["resource"]["parameter"] if "part" in p
    ]
    assert numbers == ["1", "2", "1", "2"]
    assert {d.status for d in sent} == {200}  # every reply was a Bundle: no delivery counted as failed
    for appointment in booked:
        assert (await stack.local("Appointment", appointment["id"]) or {}).get("status") == "booked"


async def test_a_silent_subscription_is_flagged_polled_and_cleared_when_it_notifies_again(stack: Stack) -> None:
    [outcome] = await registration.register(
        stack.client(), stack.settings, names=["appointment-booked"], engine=stack.engine
    )
    sub = stack.ehr.app.resources[("Subscription", outcome.id)]
    sub["status"] = "off"  # HAPI stopped delivering (an operator, an error): nothing tells fhircrm
    patient = await stack.ehr_write("POST", "Patient", {"resourceType": "Patient"})
    missed = await stack.book(patient["id"])

    report = await stack.watch_round(ehr_silence_grace_seconds=0)
    assert report.flagged == [outcome.name]
    assert report.polled == ["Appointment"]
    assert (await stack.local("Appointment", missed["id"]) or {}).get("status") == "booked"  # polling covered it
    [row] = [r for r in await registration.status(stack.client(), stack.settings, engine=stack.engine)]
    assert row["flagged"].startswith("silent while the EHR changed 1 Appointment")
    async with stack.engine.connect() as conn:
        task_id = (await conn.execute(sa.select(ehr_subscription_watch.c.task_id))).scalar()
    task = await stack.local("Task", task_id)
    assert task["status"] == "requested" and "appointment-booked" in task["description"]

    sub["status"] = "active"  # delivering again
    resumed = await stack.book(patient["id"])

    async def heard() -> bool:
        return await stack.local("Appointment", resumed["id"]) is not None

    await wait_for(heard, within=WITHIN)
    report = await stack.watch_round(ehr_silence_grace_seconds=0)
    assert report.cleared == [outcome.name]
    assert (await stack.local("Task", task_id))["status"] == "completed"
    [row] = await registration.status(stack.client(), stack.settings, engine=stack.engine)
    assert "flagged" not in row


async def test_a_topic_subscription_without_handshake_is_not_kept(topic_stack: Stack) -> None:
    """An EHR that advertises topics but never proves one (HAPI sends no handshake) gets criteria instead."""
    stack = topic_stack
    [outcome] = await registration.register(
        stack.client(), stack.settings, names=["appointment-booked"], engine=stack.engine
    )
    assert (outcome.name, outcome.action) == ("criteria-appointment-booked", "created")
    assert outcome.note.startswith("no handshake for topic-appointment-booked within 1s: removed")
    subs = [r for (t, _), r in stack.ehr.app.resources.items() if t == "Subscription"]
    assert [s["criteria"] for s in subs] == ["Appointment?status=booked"]  # never both for one event


async def test_a_topic_subscription_whose_handshake_never_came_is_flagged_and_polled(topic_stack: Stack) -> None:
    """Asked for by hand (``--kind topic``) on an EHR that never shakes hands: the watch says so."""
    stack = topic_stack
    [outcome] = await registration.register(
        stack.client(), stack.settings, kind="topic-based", names=["topic-appointment-booked"], engine=stack.engine
    )
    report = await stack.watch_round(ehr_handshake_seconds=0)
    assert (report.flagged, report.polled) == ([outcome.name], ["Appointment"])
    [row] = await registration.status(stack.client(), stack.settings, engine=stack.engine)
    assert (row["handshake"], row["flagged"][:36]) == ("none", "no handshake since it was registered")
