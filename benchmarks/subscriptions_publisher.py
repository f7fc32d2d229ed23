"""What the publisher listener costs a write: 500-entry transaction Bundles with and without Subscriptions.

On demand, not in CI. A fresh PostgreSQL database, fhircrm's ASGI app in process (no network noise), and
``POST /fhir`` of transaction Bundles of 250 Patients + 250 booked Appointments, in four set-ups:

  none       no Subscription at all
  unrelated  20 active Subscriptions on types the Bundles never touch (Task, Communication ...)
  related    20 active Subscriptions on Patient/Appointment whose criteria match nothing in the Bundles
  matching   1 topic Subscription (appointment-booked) that matches all 250 Appointments (250 deliveries queued)

    .venv/bin/python benchmarks/subscriptions_publisher.py --rounds 15

Prints the median per Bundle, the overhead over ``none``, and the time spent inside the publisher listener
itself (timed in process, so it is not lost in the noise of a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fhircrm.stores
from fhircrm.app import create_app
from fhircrm.config import Settings

SPENT: list[float] = []


def _timed(listener):  # type: ignore[no-untyped-def]
    async def run(conn, changes):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return await listener(conn, changes)
        finally:
            SPENT.append(time.perf_counter() - start)

    return run


fhircrm.stores.LISTENERS = tuple(
    _timed(x) if x.__name__ == "notify_subscribers" else x for x in fhircrm.stores.LISTENERS
)

FHIR = {"Content-Type": "application/fhir+json"}
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOPIC = "https://fhircrm.dev/SubscriptionTopic/appointment-booked"


def bundle(size: int) -> dict:
    entries = []
    for _ in range(size // 2):
        pid = f"urn:uuid:{uuid.uuid4()}"
        entries.append(
            {
                "fullUrl": pid,
                "resource": {"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Mark"]}]},
                "request": {"method": "POST", "url": "Patient"},
            }
        )
        entries.append(
            {
                "resource": {
                    "resourceType": "Appointment",
                    "status": "booked",
                    "start": "2030-01-02T09:00:00Z",
                    "end": "2030-01-02T09:20:00Z",
                    "participant": [{"actor": {"reference": pid}, "status": "accepted"}],
                },
                "request": {"method": "POST", "url": "Appointment"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def subscription(criteria: str, *, topic: bool = False) -> dict:
    sub = {
        "resourceType": "Subscription",
        "status": "active",
        "reason": "benchmark",
        "criteria": criteria,
        "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook", "payload": "application/fhir+json"},
    }
    if topic:
        sub["meta"] = {
            "profile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"]
        }
    return sub


SETUPS: dict[str, list[dict]] = {
    "none": [],
    "unrelated": [
        subscription(c)
        for c in [
            "Task?status=requested",
            "Communication?status=completed",
            "Encounter?status=finished",
            "DiagnosticReport?status=final",
            "ServiceRequest?status=active",
        ]
        * 4
    ],
    "related": [
        subscription(c)
        for c in [
            *(f"Patient?family=Nobody{i}" for i in range(10)),
            *(f"Appointment?status=noshow&_id=x{i}" for i in range(10)),
        ]
    ],
    "matching": [subscription(TOPIC, topic=True)],
}


async def measure(url: str, setup: str, rounds: int, size: int) -> list[float]:
    settings = Settings(environment="test", database_url=url, base_url="http://bench/fhir", max_bundle_entries=5000)
    app = create_app(settings, migrate=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as api:
            for sub in SETUPS[setup]:
                r = await api.post("/fhir/Subscription", json=sub, headers=FHIR)
                assert r.status_code == 201, r.text
            await api.post("/fhir", json=bundle(size), headers=FHIR)  # warm-up
            times = []
            SPENT.clear()
            for _ in range(rounds):
                body = bundle(size)
                start = time.perf_counter()
                r = await api.post("/fhir", json=body, headers=FHIR)
                times.append(time.perf_counter() - start)
                assert r.status_code == 200, r.text[:500]
    return times, sum(SPENT) / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--size", type=int, default=500)
    args = parser.parse_args()
    results: dict[str, tuple[list[float], float]] = {}
    for setup in SETUPS:
        name = f"fhircrm_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            results[setup] = asyncio.run(measure(url, setup, args.rounds, args.size))
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    base = statistics.median(results["none"][0])
    print(f"{args.size}-entry transaction Bundles, {args.rounds} rounds each (PostgreSQL, in-process ASGI)")
    for setup, (times, listener) in results.items():
        med = statistics.median(times)
        print(
            f"  {setup:<10} median {med * 1000:7.1f} ms  overhead {100 * (med / base - 1):+5.1f}%"
            f"  publisher listener {listener * 1000:6.1f} ms/Bundle ({100 * listener / med:4.1f}% of the request)"
        )


if __name__ == "__main__":
    main()
