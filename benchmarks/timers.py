"""Durable timers at volume: N CommunicationRequests due at once, dispatched by two sweep processes.

    .venv/bin/python benchmarks/timers.py --timers 100000                 # the sweep machinery (claim, complete)
    .venv/bin/python benchmarks/timers.py --timers 2000 --dispatch record  # plus one Communication per timer

Creates a scratch PostgreSQL database (FHIRCRM_TEST_PG_DSN, default postgresql://postgres@127.0.0.1:5432/test),
writes the timers, starts two processes that each run ``sweep_until_idle`` (SKIP LOCKED claims, one transaction
per batch), and prints the wall time and rate. Checks that every timer was completed exactly once.
``--dispatch none`` measures claiming and completing only; ``record`` writes the Communication each message
would be (one store write per message, as the channel layer does).

Measured 2026-11-27 on the 2-core dev machine, ``--timers 100000``: 24.9 s (4,009 timers/s) on a quiet machine,
31.8 s with another job running; it was 151-229 s. Two changes did it: an update is validated and
re-indexed only for the top-level elements it changed (``fhir/diff.py``: completing a timer rewrites its
``status`` row, not its ~20 index rows), and the planner has statistics after the bulk load (``ANALYZE``, which
autovacuum does in production; without them the index-row DELETE walked every ``status`` row, O(n) per batch).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from fhircrm.clock import fhir_datetime
from fhircrm.config import Settings
from fhircrm.db import analyze, create_engine
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.migrate import upgrade
from fhircrm.stores import open_store
from fhircrm.timers.dispatch import COMPLETED, Dispatchers, Outcome
from fhircrm.timers.resources import MESSAGE, TEMPLATE_EXTENSION, TimerPlan, patient_of, template_of
from fhircrm.timers.sweep import sweep_until_idle

DSN = os.environ.get("FHIRCRM_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _nothing(_store: FhirStore, _request: dict, _now: datetime) -> Outcome:
    return COMPLETED


async def record_message(store: FhirStore, request: dict, now: datetime) -> Outcome:
    """One store write per message, as the channel layer does: the Communication the timer would be."""
    communication = {
        "resourceType": "Communication",
        "identifier": [{"system": "http://fhircrm.org/dedupe-key", "value": f"CommunicationRequest/{request['id']}"}],
        "basedOn": [{"reference": f"CommunicationRequest/{request['id']}"}],
        "status": "preparation",
        "sent": fhir_datetime(now),
    }
    if template := template_of(request):
        communication["extension"] = [{"url": TEMPLATE_EXTENSION, "valueString": template}]
    if patient := patient_of(request):
        communication["subject"] = {"reference": patient}
        communication["recipient"] = [{"reference": patient}]
    await store.create(communication)
    return COMPLETED


async def seed(url: str, count: int, due: datetime) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    settings = Settings(database_url=url)
    for offset in range(0, count, 2000):
        ops = [
            Operation(
                "POST",
                "CommunicationRequest",
                resource=TimerPlan(
                    key=f"bench:{i}", due=due, patient=f"Patient/p{i % 5000}", template="appointment-reminder"
                ).to_resource(authored=due),
            )
            for i in range(offset, min(offset + 2000, count))
        ]
        async with engine.begin() as conn:
            await open_store(conn, settings, policy=ServiceScope("benchmark")).apply(ops)
    await analyze(engine)  # what autovacuum would do after a bulk load (it is off on the dev machine's PostgreSQL)
    await engine.dispose()


async def work(url: str, dispatch: str) -> None:
    engine = create_engine(url)
    settings = Settings(database_url=url)
    dispatchers = Dispatchers()
    dispatchers.register(MESSAGE, record_message if dispatch == "record" else _nothing)
    handled = await sweep_until_idle(engine, settings=settings, dispatchers=dispatchers)
    print(f"worker {os.getpid()} dispatched {handled}", flush=True)
    await engine.dispose()


async def completed(url: str) -> int:
    engine = create_engine(url)
    async with engine.connect() as conn:
        result = await open_store(conn, Settings(database_url=url), policy=ServiceScope("benchmark")).search(
            "CommunicationRequest", [("status", "completed"), ("_summary", "count")]
        )
    await engine.dispose()
    return result.total or 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dispatch", choices=("none", "record"), default="none")
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_url:
        asyncio.run(work(args.worker_url, args.dispatch))
        return
    name = f"fhircrm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        started = time.perf_counter()
        asyncio.run(seed(url, args.timers, datetime.now(UTC) - timedelta(minutes=1)))
        print(f"seeded {args.timers} due timers in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        command = [sys.executable, __file__, "--worker-url", url, "--dispatch", args.dispatch]
        workers = [subprocess.Popen(command) for _ in range(args.workers)]
        for worker in workers:
            worker.wait()
        elapsed = time.perf_counter() - started
        done = asyncio.run(completed(url))
        print(
            f"{done}/{args.timers} timers completed by {args.workers} workers (dispatch={args.dispatch}) "
            f"in {elapsed:.1f} s: {done / elapsed:.0f} timers/s"
        )
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
