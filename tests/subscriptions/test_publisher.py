"""Our own Subscriptions: write-time matching, delivery from the outbox (respx fakes the subscribers),
retries honouring Retry-After, dead letters, status=error, $status, $events and $replay. Both databases."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import respx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.sekmet import crm_settings

from fhircrm.config import Settings
from fhircrm.jobs.queue import utcnow
from fhircrm.jobs.runner import JobRunner
from fhircrm.jobs.tables import job
from fhircrm.runtime import Runtime
from fhircrm.shipped_content import install_shipped_topics
from fhircrm.subscriptions.backport import PROFILE, parse_notification
from fhircrm.worker import build_wiring

HOOK = "https://subscriber.example.test/hook"
FHIR = {"Content-Type": "application/fhir+json"}
TOPIC = "https://fhircrm.dev/SubscriptionTopic"


@dataclass
class Crm:
    api: httpx.AsyncClient
    settings: Settings
    engine: AsyncEngine
    runner: JobRunner

    async def post(self, resource: dict) -> httpx.Response:
        return await self.api.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR)

    async def subscription(self, **fields: object) -> dict:
        response = await self.post({"resourceType": "Subscription", "status": "requested", "reason": "test", **fields})
        assert response.status_code == 201, response.text
        await self.runner.drain()
        return (await self.api.get(f"/fhir/Subscription/{response.json()['id']}")).json()

    async def run_due_retries(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(job).where(job.c.status == "pending").values(run_at=utcnow()))
        await self.runner.drain()


@pytest.fixture
async def crm(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[Crm]:
    from fhircrm.app import create_app

    settings = crm_settings(database_url, subscriptions_max_attempts=2, subscriptions_hmac_secret="sign-me")
    app = create_app(settings, migrate=False)
    app.state.engine = clean_engine
    await install_shipped_topics(clean_engine, settings)  # as migrate and start-up do
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api,
        httpx.AsyncClient() as http,
    ):
        registry = build_wiring(Runtime(settings, clean_engine, http)).jobs
        yield Crm(api, settings, clean_engine, JobRunner(clean_engine, registry))


def _criteria_sub(criteria: str, **channel: object) -> dict:
    return {
        "criteria": criteria,
        "channel": {
            "type": "rest-hook",
            "endpoint": HOOK,
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer abc"],
            **channel,
        },
    }


def _topic_sub(name: str, content: str = "id-only", filters: list[str] | None = None) -> dict:
    sub: dict = {
        "meta": {"profile": [PROFILE]},
        "criteria": f"{TOPIC}/{name}",
        "channel": {
            "type": "rest-hook",
            "endpoint": HOOK,
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [
                    {"url": PROFILE.replace("backport-subscription", "backport-payload-content"), "valueCode": content}
                ]
            },
        },
    }
    if filters:
        sub["_criteria"] = {
            "extension": [
                {"url": PROFILE.replace("backport-subscription", "backport-filter-criteria"), "valueString": f}
                for f in filters
            ]
        }
    return sub


@respx.mock
async def test_a_criteria_subscription_is_activated_and_gets_the_matching_resource(crm: Crm) -> None:
    sub = await crm.subscription(**_criteria_sub("Task?status=requested"))
    assert sub["status"] == "active"
    hook = respx.put(url__startswith=HOOK).mock(return_value=httpx.Response(200))
    task = (await crm.post({"resourceType": "Task", "status": "requested", "intent": "order"})).json()
    await crm.post({"resourceType": "Task", "status": "draft", "intent": "order"})  # does not match
    await crm.runner.drain()
    [call] = hook.calls
    assert call.request.url == f"{HOOK}/Task/{task['id']}"
    assert call.request.headers["Authorization"] == "Bearer abc"
    body = call.request.content
    expected = "sha256=" + hmac.new(b"sign-me", body, hashlib.sha256).hexdigest()
    assert call.request.headers["X-Fhircrm-Signature"] == expected


async def test_a_subscription_with_unknown_criteria_is_refused_and_not_stored(crm: Crm) -> None:
    response = await crm.post(
        {"resourceType": "Subscription", "status": "requested", "reason": "x", **_criteria_sub("Task?no-such-param=1")}
    )
    assert response.status_code == 422
    assert (await crm.api.get("/fhir/Subscription")).json().get("total") == 0


async def test_a_subscription_to_an_unknown_topic_is_refused(crm: Crm) -> None:
    response = await crm.post(
        {"resourceType": "Subscription", "status": "requested", "reason": "x", **_topic_sub("no-such-topic")}
    )
    assert response.status_code == 422
    assert (await crm.api.get("/fhir/Subscription")).json().get("total") == 0


@respx.mock
async def test_a_topic_subscription_handshakes_then_numbers_its_events(crm: Crm) -> None:
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    sub = await crm.subscription(**_topic_sub("task-created", content="full-resource"))
    assert sub["status"] == "active"
    for _ in range(2):
        await crm.post({"resourceType": "Task", "status": "requested", "intent": "order"})
    await crm.runner.drain()
    notes = [parse_notification(httpx.Response(200, content=c.request.content).json()) for c in hook.calls]
    assert [n.type for n in notes] == ["handshake", "event-notification", "event-notification"]
    assert sorted(n.events[0].number for n in notes[1:]) == [1, 2]
    assert all(n.resources[0]["resourceType"] == "Task" for n in notes[1:])


@respx.mock
async def test_topic_filters_narrow_the_events(crm: Crm) -> None:
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    await crm.subscription(**_topic_sub("task-created", filters=["Task?status=ready"]))
    await crm.post({"resourceType": "Task", "status": "requested", "intent": "order"})
    ready = (await crm.post({"resourceType": "Task", "status": "ready", "intent": "order"})).json()
    await crm.runner.drain()
    events = [parse_notification(httpx.Response(200, content=c.request.content).json()) for c in hook.calls][1:]
    assert [e.events[0].focus for e in events] == [f"http://testserver/fhir/Task/{ready['id']}"]


@respx.mock
async def test_survey_answered_low_fires_only_for_a_low_score(crm: Crm) -> None:
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    await crm.subscription(**_topic_sub("survey-answered-low"))
    for score in (9, 3):
        await crm.post(
            {
                "resourceType": "QuestionnaireResponse",
                "status": "completed",
                "item": [{"linkId": "nps", "answer": [{"valueInteger": score}]}],
            }
        )
    await crm.runner.drain()
    assert len(hook.calls) == 2  # the handshake and the score of 3


@respx.mock
async def test_a_503_is_retried_no_sooner_than_its_retry_after(crm: Crm) -> None:
    await crm.subscription(**_criteria_sub("Task?status=requested"))
    respx.put(url__startswith=HOOK).mock(return_value=httpx.Response(503, headers={"Retry-After": "300"}))
    await crm.post({"resourceType": "Task", "status": "requested", "intent": "order"})
    await crm.runner.drain()
    async with crm.engine.connect() as conn:
        [run_at] = (
            await conn.execute(
                sa.select(job.c.run_at).where(job.c.kind == "subscription-delivery", job.c.status == "pending")
            )
        ).scalars()
    assert run_at >= utcnow() + timedelta(seconds=290)


@respx.mock
async def test_a_dead_delivery_sets_status_error_and_replay_delivers_it(crm: Crm) -> None:
    sub = await crm.subscription(**_criteria_sub("Task?status=requested"))
    hook = respx.put(url__startswith=HOOK).mock(return_value=httpx.Response(500))
    await crm.post({"resourceType": "Task", "status": "requested", "intent": "order"})
    await crm.runner.drain()
    await crm.run_due_retries()  # the second (last) attempt
    errored = (await crm.api.get(f"/fhir/Subscription/{sub['id']}")).json()
    assert errored["status"] == "error" and "HTTP 500" in errored["error"]
    status = (await crm.api.get(f"/fhir/Subscription/{sub['id']}/$status")).json()
    params = {p["name"]: p for p in status["entry"][0]["resource"]["parameter"]}
    assert (params["status"]["valueCode"], params["fhircrm-failed"]["valueInteger"]) == ("error", 2)
    assert params["events-since-subscription-start"]["valueString"] == "1"

    hook.mock(return_value=httpx.Response(200))
    replay = await crm.api.post(f"/fhir/Subscription/{sub['id']}/$replay")
    assert replay.json()["parameter"][0]["valueInteger"] == 1
    await crm.runner.drain()
    assert len(hook.calls) == 3
    assert (await crm.api.get(f"/fhir/Subscription/{sub['id']}")).json()["status"] == "active"


@respx.mock
async def test_events_lists_what_was_sent(crm: Crm) -> None:
    respx.post(HOOK).mock(return_value=httpx.Response(200))
    sub = await crm.subscription(**_topic_sub("task-created"))
    task = (await crm.post({"resourceType": "Task", "status": "requested", "intent": "order"})).json()
    await crm.runner.drain()
    bundle = (await crm.api.get(f"/fhir/Subscription/{sub['id']}/$events?eventsSinceNumber=1")).json()
    note = parse_notification(bundle)
    assert note is not None and note.type == "query-event"
    assert [(e.number, e.focus) for e in note.events] == [(1, f"http://testserver/fhir/Task/{task['id']}")]
