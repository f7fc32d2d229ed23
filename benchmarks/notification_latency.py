"""EHR-to-fhircrm notification latency: from an Appointment committed on SEKMET (the EHR stand-in) to the
AppointmentBooked domain event committed in fhircrm, for criteria-based and topic-based (id-only) Subscriptions.

On demand, not in CI. Starts SEKMET and fhircrm (API + embedded worker, fresh PostgreSQL database) on free
loopback ports, registers fhircrm's Subscriptions on SEKMET, books ``--count`` appointments one after another
and prints p50/p95/max per kind. The end of the interval is the domain event job's ``created_at`` (written in
the mirroring transaction); the start is when SEKMET answered the POST (its commit).

    .venv/bin/python benchmarks/notification_latency.py --count 50
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.sekmet import crm_overrides
from tests.fixtures.servers import fhircrm_server, sekmet_server

from fhircrm.config import Settings
from fhircrm.db import create_engine
from fhircrm.ehr.client import FhirpyEhrClient
from fhircrm.jobs.tables import job
from fhircrm.subscriptions import registration


async def _event_time(engine: sa.ext.asyncio.AsyncEngine, subject: str) -> datetime:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(job.c.created_at, job.c.payload).where(job.c.kind == "domain-event"))
            for created_at, payload in rows:
                if payload["subject"] == subject and payload["name"] == "AppointmentBooked":
                    return created_at.replace(tzinfo=UTC)
        await asyncio.sleep(0.005)
    raise TimeoutError(subject)


async def measure(ehr_url: str, engine: sa.ext.asyncio.AsyncEngine, count: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(timeout=10) as http:
        patient = (
            await http.post(
                f"{ehr_url}/Patient", json={"resourceType": "Patient"}, headers={"Prefer": "return=representation"}
            )
        ).json()
        for i in range(count):
            body = {
                "resourceType": "Appointment",
                "status": "booked",
                "start": f"2030-01-02T09:{i % 60:02d}:00Z",
                "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"}],
            }
            response = await http.post(f"{ehr_url}/Appointment", json=body, headers={"Prefer": "return=representation"})
            committed = datetime.now(UTC)
            event = await _event_time(engine, f"Appointment/{response.json()['id']}")
            out.append((event - committed).total_seconds() * 1000)
    return out


def report(kind: str, values: list[float]) -> None:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(
        f"{kind:12s} n={len(values):3d}  p50={statistics.median(ordered):7.1f} ms  p95={p95:7.1f} ms"
        f"  max={ordered[-1]:7.1f} ms"
    )


async def run_kind(kind: str, count: int) -> list[float]:
    name, database_url = create_pg_database()
    try:
        with sekmet_server(Path(tempfile.mkdtemp()) / "ehr") as ehr:
            overrides = crm_overrides(ehr.base_url)
            with fhircrm_server(database_url, **overrides) as crm:
                settings = Settings(environment="test", database_url=database_url, base_url=crm.base_url, **overrides)
                client = FhirpyEhrClient(ehr.base_url)
                prefix = "criteria" if kind == "criteria" else "topic"
                await registration.register(client, settings, kind=kind, names=[f"{prefix}-appointment-booked"])
                await asyncio.sleep(1.5)  # the backport handshake
                engine = create_engine(database_url)
                try:
                    await measure(ehr.base_url, engine, 3)  # warm-up
                    return await measure(ehr.base_url, engine, count)
                finally:
                    await engine.dispose()
    finally:
        drop_pg_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    for kind in ("criteria", "topic-based"):
        report(kind, asyncio.run(run_kind(kind, args.count)))


if __name__ == "__main__":
    main()
