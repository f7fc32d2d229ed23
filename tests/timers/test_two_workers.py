"""Exactly once across processes: two ``fhircrm worker`` processes on one PostgreSQL database plan and send
2,000 appointments' confirmations and reminders, one of them killed mid-run and restarted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.journeys import Clinic
from tests.fixtures.servers import stop_processes
from tests.fixtures.stores import TESTS

from fhircrm.clock import fhir_datetime
from fhircrm.fhir.store import Operation
from fhircrm.jobs.tables import job
from fhircrm.stores import open_store
from fhircrm.timers.resources import timer_key

#: The issue's number. Planning is batched (100 booking events per transaction, one write for their timers and
#: one for their RiskAssessments); the store's write path still makes this the suite's longest test (135 s at
#: load 4 on 2 cores: planning 47 s, sending 86 s), hence ``slow`` and the phase deadlines below.
#: FHIRCRM_E2E_APPOINTMENTS=300 for a quick local run.
APPOINTMENTS = int(os.environ.get("FHIRCRM_E2E_APPOINTMENTS", "2000"))
#: Deadlines per phase (seconds), scaled to the volume: a stuck worker fails the test instead of hanging CI.
PLAN_DEADLINE = 60 + 0.2 * APPOINTMENTS
SEND_DEADLINE = 60 + 0.25 * APPOINTMENTS


def start_worker(database_url: str, offset: float, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "FHIRCRM_DATABASE_URL": database_url,
        "FHIRCRM_TIMERS_CLOCK_OFFSET_SECONDS": str(offset),
        "FHIRCRM_TIMERS_SWEEP_SECONDS": "1",
        "FHIRCRM_WORKER_POLL_SECONDS": "0.2",
        "FHIRCRM_TIMERS_BATCH_SIZE": "100",  # several batches per worker: the kill lands between commits and inside one
    }
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, "-m", "fhircrm.cli", "worker"], env=env, stdout=out, stderr=out)


async def book_many(clinic: Clinic, start: datetime) -> None:
    async with clinic.engine.begin() as conn:
        store = open_store(conn, clinic.settings, policy=TESTS)
        for offset in range(0, APPOINTMENTS, 500):
            ops = []
            for i in range(offset, min(offset + 500, APPOINTMENTS)):
                patient = {"resourceType": "Patient", "id": f"p{i}", "name": [{"given": ["Pat"]}]}
                appointment = {
                    "resourceType": "Appointment",
                    "id": f"a{i}",
                    "status": "booked",
                    "start": fhir_datetime(start),
                    "end": fhir_datetime(start + timedelta(minutes=20)),
                    "created": fhir_datetime(start - timedelta(days=10)),
                    "participant": [{"actor": {"reference": f"Patient/p{i}"}, "status": "needs-action"}],
                }
                ops += [Operation("PUT", "Patient", patient["id"], patient)]
                ops += [Operation("PUT", "Appointment", appointment["id"], appointment)]
            await store.apply(ops)


async def pending_events(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(job.c.kind == "domain-event", job.c.status == "pending")
        return (await conn.execute(query)).scalar_one()


async def active_timers(clinic: Clinic) -> int:
    async with clinic.engine.connect() as conn:
        result = await open_store(conn, clinic.settings, policy=TESTS).search(
            "CommunicationRequest", [("status", "active"), ("_summary", "count")]
        )
        return result.total or 0


async def sent_messages(clinic: Clinic) -> int:
    async with clinic.engine.connect() as conn:
        result = await open_store(conn, clinic.settings, policy=TESTS).search("Communication", [("_summary", "count")])
        return result.total or 0


async def wait_until(check, *, timeout: float) -> None:  # noqa: ASYNC109 - a polling deadline, not a cancel scope
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not finish in time")
        await asyncio.sleep(0.5)


async def all_timers(clinic: Clinic) -> list[dict]:
    found: list[dict] = []
    async with clinic.engine.connect() as conn:
        store = open_store(conn, clinic.settings, policy=TESTS)
        while True:
            page = await store.search("CommunicationRequest", [("_count", "1000"), ("_offset", str(len(found)))])
            found += page.matches
            if not page.has_next:
                return found


async def all_messages(clinic: Clinic) -> list[dict]:
    found: list[dict] = []
    async with clinic.engine.connect() as conn:
        store = open_store(conn, clinic.settings, policy=TESTS)
        while True:
            page = await store.search("Communication", [("_count", "1000"), ("_offset", str(len(found)))])
            found += page.matches
            if not page.has_next:
                return found


@pytest.mark.slow
async def test_two_workers_send_each_confirmation_and_reminder_exactly_once_across_a_restart(
    clinic: Clinic, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several worker processes need PostgreSQL (SKIP LOCKED); SQLite runs one embedded worker")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = (now + timedelta(days=6)).replace(hour=15)  # 11:00 in New York: every planned time is in the day
    await book_many(clinic, start)

    phase = time.monotonic()
    planners = [start_worker(database_url, 0, tmp_path / f"plan-{n}.log") for n in (1, 2)]
    try:
        await wait_until(lambda: _none(pending_events(clinic.engine)), timeout=PLAN_DEADLINE)
    finally:
        stop_processes(*planners, timeout=20)
    assert await active_timers(clinic) >= 2 * APPOINTMENTS
    print(f"planned {APPOINTMENTS} bookings in {time.monotonic() - phase:.0f} s")  # shown with -s
    phase = time.monotonic()

    # Move the workers' clock to 12 hours before the visits: every confirmation and reminder is due.
    offset = (start - timedelta(hours=12) - datetime.now(UTC)).total_seconds()
    first, second = (start_worker(database_url, offset, tmp_path / f"send-{n}.log") for n in (1, 2))
    restarted = None
    try:
        await wait_until(lambda: _at_least(sent_messages(clinic), APPOINTMENTS // 4), timeout=SEND_DEADLINE)
        first.kill()  # mid-run, no goodbye: its open batch rolls back and its locks go with its connection
        first.wait()
        restarted = start_worker(database_url, offset, tmp_path / "send-1-restarted.log")
        await wait_until(lambda: _none(active_timers(clinic)), timeout=SEND_DEADLINE)
    finally:
        stop_processes(*(w for w in (first, second, restarted) if w is not None), timeout=20)

    print(f"sent their confirmations and reminders in {time.monotonic() - phase:.0f} s, one worker killed")
    step_of = {t["id"]: timer_key(t).split(":")[1] for t in await all_timers(clinic) if timer_key(t)}
    sent = Counter()
    for message in await all_messages(clinic):
        requests = [
            r["reference"].split("/")[1]
            for r in message.get("basedOn", [])
            if "CommunicationRequest/" in r["reference"]
        ]
        appointments = [r["reference"] for r in message.get("basedOn", []) if r["reference"].startswith("Appointment/")]
        for request in requests:
            sent[(appointments[0], step_of[request])] += 1
    for i in range(APPOINTMENTS):
        assert sent[(f"Appointment/a{i}", "confirm")] == 1
        assert sent[(f"Appointment/a{i}", "remind")] == 1
    assert max(sent.values()) == 1


async def _none(count) -> bool:
    return await count == 0


async def _at_least(count, minimum: int) -> bool:
    return await count >= minimum
