"""A real ``fhircrm worker`` killed with SIGKILL mid-export and mid-import, then started again: the job resumes
from its committed cursor and loses nothing, writes nothing twice (every imported resource is at version 1,
every exported id appears once)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.bulk.clinic import download, seed, serve_directory, write_ndjson
from tests.fixtures.cli import FHIRCRM, cli_env

from fhircrm.bulk.tables import bulk_job

ASYNC = {"Prefer": "respond-async"}
STEP = 20
RESOURCES = 1200
#: how long a job may take to finish once the worker runs again (a bound against hanging, not a timing assertion)
PATIENCE = 300.0


def observations(prefix: str) -> list[dict]:
    return [{"resourceType": "Patient", "id": f"{prefix}-p"}] + [
        {
            "resourceType": "Observation",
            "id": f"{prefix}-{n}",
            "status": "final",
            "code": {"text": "pulse"},
            "subject": {"reference": f"Patient/{prefix}-p"},
            "valueQuantity": {"value": n},
        }
        for n in range(RESOURCES - 1)
    ]


@contextmanager
def worker(database_url: str, tmp_path: Path) -> Iterator[subprocess.Popen]:
    env = cli_env(
        database_url=database_url,
        bulk_step_resources=STEP,
        worker_poll_seconds=0.2,
        subscriptions_allowed_endpoints=["127.0.0.0/8"],  # the $import input is served on loopback
    )
    process = subprocess.Popen(
        [str(FHIRCRM), "worker"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


async def job_state(engine: AsyncEngine, job_id: str) -> tuple[str, int]:
    if engine.dialect.name == "sqlite":  # a plain reader: it neither waits for nor holds up the worker's writes
        with contextlib.closing(sqlite3.connect(f"file:{engine.url.database}?mode=ro", uri=True)) as db:
            status, cursor = db.execute("SELECT status, cursor FROM bulk_job WHERE id = ?", (job_id,)).fetchone()
        return status, int(orjson.loads(cursor).get("step", 0))
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(bulk_job.c.status, bulk_job.c.cursor).where(bulk_job.c.id == job_id))).one()
    return row.status, int(row.cursor.get("step", 0))


async def wait_for(engine: AsyncEngine, job_id: str, done: bool, process: subprocess.Popen) -> tuple[str, int]:
    """Poll until the job has done a few steps (``done`` False) or finished (True)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while loop.time() < deadline:
        assert process.poll() is None, "the worker exited on its own"
        status, step = await job_state(engine, job_id)
        if status != "running" or (not done and step >= 3):
            return status, step
        await asyncio.sleep(0.02)
    raise AssertionError(f"the bulk job did not get there within {PATIENCE:.0f}s")


async def kill_and_resume(app: FastAPI, database_url: str, tmp_path: Path, job_id: str) -> int:
    engine = app.state.engine
    with worker(database_url, tmp_path) as first:
        status, step_at_kill = await wait_for(engine, job_id, False, first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert status == "running", "the job finished before the worker could be killed mid-way"
    status, _ = await job_state(engine, job_id)
    assert status == "running"
    with worker(database_url, tmp_path) as second:
        status, steps = await wait_for(engine, job_id, True, second)
    assert status == "done"
    assert steps > step_at_kill
    return step_at_kill


async def test_export_resumes_after_the_worker_is_killed(
    client: httpx.AsyncClient, app: FastAPI, clean_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    resources = observations("k")
    await seed(clean_engine, resources)
    response = await client.get("/$export", params={"_type": "Patient,Observation"}, headers=ASYNC)
    assert response.status_code == 202
    location = response.headers["Content-Location"]
    await kill_and_resume(app, database_url, tmp_path, location.rsplit("/", 1)[1])
    manifest = (await client.get(location)).json()
    exported = await download(client, manifest)
    ids = [r["id"] for r in exported]
    assert len(ids) == len(set(ids)) == RESOURCES
    assert set(ids) == {r["id"] for r in resources}
    assert all(item["count"] <= STEP for item in manifest["output"])


async def test_import_resumes_after_the_worker_is_killed(
    client: httpx.AsyncClient, app: FastAPI, clean_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    resources = observations("i")
    write_ndjson(tmp_path / "input.ndjson", resources)
    with serve_directory(tmp_path) as base:
        body = {"output": [{"type": "Observation", "url": f"{base}/input.ndjson"}]}
        response = await client.post("/$import", json=body, headers=ASYNC)
        assert response.status_code == 202, response.text
        location = response.headers["Content-Location"]
        await kill_and_resume(app, database_url, tmp_path, location.rsplit("/", 1)[1])
    manifest = (await client.get(location)).json()
    assert manifest["extension"]["imported"] == RESOURCES
    assert manifest["error"] == []
    async with clean_engine.connect() as conn:
        rows = (
            await conn.execute(sa.text("SELECT fhir_id, version, content FROM resource WHERE res_type <> 'AuditEvent'"))
        ).all()
    assert sorted(r.fhir_id for r in rows) == sorted(r["id"] for r in resources)
    assert {r.version for r in rows} == {1}  # nothing was written twice
    contents = {r.fhir_id: orjson.loads(r.content) if isinstance(r.content, str) else r.content for r in rows}
    assert contents["i-7"]["valueQuantity"] == {"value": 7}
