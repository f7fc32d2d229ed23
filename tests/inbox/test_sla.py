"""The SLA sweep: a warning before a clock runs out, a breach (and a supervisor Task) once it has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.channels.signatures_helpers import post_sms
from tests.channels.support import create, patient_body, search

from fhircrm.channels.install import SLA_SWEEP, sla_sweep
from fhircrm.jobs.periodic import Periodic, run_periodic
from fhircrm.runtime import Runtime
from fhircrm.worker import build_wiring


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _thread(web, clean_engine, channel_settings) -> dict:
    await create(clean_engine, channel_settings, patient_body(phone="+15551230001"))
    await post_sms(web, "where do I park?")
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    return thread


def _sweep(clean_engine, channel_settings, clock: Clock):
    runtime = Runtime(channel_settings, clean_engine, None)  # type: ignore[arg-type]  (no HTTP in this task)
    return lambda: run_periodic(clean_engine, Periodic(SLA_SWEEP, 60, sla_sweep(runtime, clock)))


async def _breach_tasks(clean_engine, channel_settings) -> list[dict]:
    tasks = await search(clean_engine, channel_settings, "Task", [])
    return [t for t in tasks if t["code"]["coding"][0]["code"] == "sla-breach"]


async def test_the_sla_sweep_is_a_periodic_task_of_the_worker(clean_engine, channel_settings):
    wiring = build_wiring(Runtime(channel_settings, clean_engine, None))  # type: ignore[arg-type]
    assert SLA_SWEEP in [p.name for p in wiring.periodic]


async def test_a_thread_gets_a_warning_before_its_first_response_is_due(web, clean_engine, channel_settings):
    thread = await _thread(web, clean_engine, channel_settings)
    clock = Clock()
    sweep = _sweep(clean_engine, channel_settings, clock)
    await sweep()
    assert (await web.get(f"/api/inbox/threads/{thread['id']}")).json()["sla"]["alerts"] == []
    clock.now += timedelta(minutes=200)  # 83% of the 240-minute window
    await sweep()
    detail = (await web.get(f"/api/inbox/threads/{thread['id']}")).json()
    assert detail["sla"]["alerts"] == ["first-response-warning"]
    assert await _breach_tasks(clean_engine, channel_settings) == []


async def test_a_breached_thread_is_flagged_and_escalated_once_to_a_supervisor(web, clean_engine, channel_settings):
    thread = await _thread(web, clean_engine, channel_settings)
    clock = Clock()
    sweep = _sweep(clean_engine, channel_settings, clock)
    clock.now += timedelta(minutes=241)
    await sweep()
    await sweep()
    detail = (await web.get(f"/api/inbox/threads/{thread['id']}")).json()
    assert detail["sla"]["alerts"] == ["first-response-breached"]
    [task] = await _breach_tasks(clean_engine, channel_settings)
    assert task["partOf"] == [{"reference": f"Task/{thread['id']}"}]
    assert task["performerType"][0]["coding"][0]["code"] == "supervisor"
    flagged = await search(clean_engine, channel_settings, "Task", [("sla-alert", "first-response-breached")])
    assert [t["id"] for t in flagged] == [thread["id"]]


async def test_an_answered_thread_stops_its_first_response_clock(web, clean_engine, channel_settings):
    thread = await _thread(web, clean_engine, channel_settings)
    await web.post(f"/api/inbox/threads/{thread['id']}/reply", json={"text": "Level 2."})
    clock = Clock()
    clock.now += timedelta(minutes=241)
    await _sweep(clean_engine, channel_settings, clock)()
    assert (await web.get(f"/api/inbox/threads/{thread['id']}")).json()["sla"]["alerts"] == []


async def test_an_unresolved_thread_breaches_its_resolution_clock(web, clean_engine, channel_settings):
    thread = await _thread(web, clean_engine, channel_settings)
    await web.post(f"/api/inbox/threads/{thread['id']}/reply", json={"text": "Level 2."})
    clock = Clock()
    clock.now += timedelta(days=3)  # the general reason's resolution window is two days
    await _sweep(clean_engine, channel_settings, clock)()
    assert (await web.get(f"/api/inbox/threads/{thread['id']}")).json()["sla"]["alerts"] == ["resolution-breached"]
    [task] = await _breach_tasks(clean_engine, channel_settings)
    assert task["input"] == [{"type": {"text": "clock"}, "valueString": "resolution"}]
