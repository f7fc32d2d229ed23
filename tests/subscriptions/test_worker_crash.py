"""A worker killed between receipt and processing loses nothing: the next worker processes the event, once.

fhircrm's API (no embedded worker) on PostgreSQL stores the notification; a ``fhircrm worker`` process claims
it and hangs on fetching the focus from a loopback EHR that is slow on purpose; we SIGKILL it there, start a
second worker, and find the appointment mirrored and its domain event emitted exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.fixtures.sekmet import NOTIFICATION_SECRET, MisbehavingServer, crm_overrides, crm_settings, domain_events
from tests.fixtures.servers import fhircrm_server
from tests.fixtures.stores import TESTS

from fhircrm.db import create_engine
from fhircrm.jobs.tables import job
from fhircrm.stores import open_store
from fhircrm.subscriptions.backport import Event, notification_bundle, status_parameters
from fhircrm.subscriptions.hook_secrets import secret_for

pytestmark = pytest.mark.slow
NAME = "topic-appointment-booked"
FHIRCRM = Path(sys.executable).with_name("fhircrm")


def _worker(database_url: str, ehr_base_url: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "FHIRCRM_DATABASE_URL": database_url,
        "FHIRCRM_EHR_BASE_URL": ehr_base_url,
        "FHIRCRM_EHR_NOTIFICATION_SECRET": NOTIFICATION_SECRET,
        "FHIRCRM_WORKER_POLL_SECONDS": "0.2",
        "FHIRCRM_ENVIRONMENT": "test",
    }
    return subprocess.Popen([str(FHIRCRM), "worker"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def _notification_job(engine: sa.ext.asyncio.AsyncEngine) -> sa.Row:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(job).where(job.c.kind == "ehr-notification"))).one()


async def test_a_worker_killed_mid_processing_loses_nothing_and_duplicates_nothing(
    misbehaving_ehr: MisbehavingServer, pg_database_url: str, tmp_path: Path
) -> None:
    ehr = misbehaving_ehr
    ehr.app.resources["Appointment/a1"] = {
        "resourceType": "Appointment",
        "id": "a1",
        "status": "booked",
        "meta": {"versionId": "1", "lastUpdated": "2030-01-01T08:00:00Z"},
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
    }
    ehr.app.answer("Appointment/a1", (200, {}, 8.0))  # the first fetch hangs (longer than the kill takes)
    overrides = {**crm_overrides(ehr.base_url), "embedded_worker": False}
    with fhircrm_server(pg_database_url, **overrides) as crm:
        settings = crm_settings(pg_database_url)
        sub = {"id": "s1", "criteria": "https://fhircrm.dev/SubscriptionTopic/appointment-booked", "status": "active"}
        bundle = notification_bundle(
            status_parameters(sub, ehr.base_url, "event-notification", 1, [Event(1, f"{ehr.base_url}/Appointment/a1")])
        )
        root = crm.base_url.removesuffix("/fhir")
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{root}/ehr/notifications/{NAME}",
                json=bundle,
                headers={settings.ehr_notification_header: secret_for(settings, NAME)},
            )
        assert response.status_code == 200

        first = _worker(pg_database_url, ehr.base_url, tmp_path / "worker1.log")
        try:
            _wait(lambda: any(path == "Appointment/a1" for path, _ in ehr.app.seen), timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        engine = create_engine(pg_database_url)
        try:
            assert (await _notification_job(engine)).status == "pending"
            second = _worker(pg_database_url, ehr.base_url, tmp_path / "worker2.log")
            try:
                deadline = time.monotonic() + 30
                while (await _notification_job(engine)).status != "done":
                    assert time.monotonic() < deadline, (tmp_path / "worker2.log").read_text()[-3000:]
                    await asyncio.sleep(0.1)
            finally:
                second.terminate()
                second.wait(timeout=15)
            assert len(await domain_events(engine, "AppointmentBooked", "Appointment/a1")) == 1
            async with engine.connect() as conn:
                mirrored = await open_store(conn, settings, policy=TESTS).read("Appointment", "a1")
            assert (mirrored.version, mirrored.content["status"]) == (1, "booked")
        finally:
            await engine.dispose()
