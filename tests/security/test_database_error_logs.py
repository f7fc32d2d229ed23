"""No PHI in logs when the database fails (issue #13): real database errors provoked with a name and a phone
number in their SQL parameters (and, on PostgreSQL, in the error text itself) leave no trace of them in any log
record, at DEBUG, in-process on both databases and in the output of a real ``fhircrm serve``; the input that
used to reach SQL with a NUL byte is refused first, and the keep-alive connection survives it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.servers import LOOPBACK, free_port, wait_until_up

from fhircrm.app import create_app
from fhircrm.config import Settings

NAME = "Zephyrine Quillfeather"
FAMILY = "Quillfeather"
PHONE = "+15557654321"
PHI = (NAME, FAMILY, PHONE, PHONE.lstrip("+"))
PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:test:phone", "value": PHONE}],
    "name": [{"text": NAME, "family": FAMILY}],
    "telecom": [{"system": "phone", "value": PHONE}],
}
FHIR_JSON = {"Accept": "application/fhir+json"}


def everything_logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) + " " + " ".join(map(str, vars(r).values())) for r in records)


@pytest.fixture
async def web(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(Settings(environment="test", database_url=database_url), migrate=False)
    app.state.engine = clean_engine

    @app.get("/fhir/_test/database-error")
    async def database_error(request: Request) -> None:
        """A statement the database refuses, with PHI in its parameters (and in PostgreSQL's message)."""
        async with request.app.state.engine.connect() as conn:
            statement = "SELECT * FROM no_such_table WHERE name = :name AND phone = :phone"
            if conn.dialect.name == "postgresql":
                statement = "SELECT CAST(:name AS integer), CAST(:phone AS date)"
            await conn.execute(sa.text(statement), {"name": NAME, "phone": PHONE})

    @app.get("/fhir/_test/logged-database-error")
    async def logged_database_error(request: Request) -> None:
        """The same, logged with its traceback by someone else's code before it propagates."""
        try:
            await database_error(request)
        except Exception:
            logging.getLogger("somelibrary").exception("query failed")
            raise

    app.router.routes[:0] = [app.router.routes.pop(), app.router.routes.pop()]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/fhir", headers=FHIR_JSON) as client:
        yield client


async def test_database_errors_with_phi_leave_no_phi_in_debug_logs(
    web: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy", "aiosqlite", "psycopg", "fhircrm", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    assert (await web.post("/Patient", json=PATIENT)).status_code == 201
    assert (await web.get("/Patient", params={"family": FAMILY, "phone": PHONE})).json()["total"] == 1
    header = {"If-None-Exist": f"identifier=urn:test:phone|{quote(PHONE)}"}
    assert (await web.post("/Patient", json=PATIENT, headers=header)).status_code == 200
    assert (await web.get("/Patient", params={"family": f"{FAMILY}\x00"})).status_code == 400
    assert (await web.get("/Patient", params={"telecom": f"{PHONE}\x00"})).status_code == 400
    assert (await web.post("/Patient", json={**PATIENT, "name": [{"family": f"{FAMILY}\x00"}]})).status_code == 422
    for path in ("/_test/database-error", "/_test/logged-database-error"):
        failed = await web.get(path)
        assert failed.status_code in (500, 503)  # SQLite's "no such table" is an OperationalError: 503
        assert not any(value in failed.text for value in PHI)
    logged = everything_logged(caplog.records)
    assert "SQL parameters hidden" in logged  # SQLAlchemy did log at DEBUG, ...
    assert "somelibrary" in logged and "fhircrm.app" in logged  # ... the errors were logged, ...
    assert [value for value in PHI if value in logged] == []  # ... and nothing of the patient


# --- a real `fhircrm serve` ----------------------------------------------------------------------------------


@pytest.fixture(params=["postgresql", "sqlite"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """``fhircrm serve`` in a child process: (FHIR base, database URL, the file its stdout and stderr go to)."""
    if request.param == "postgresql":
        database_url = request.getfixturevalue("pg_database_url")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'served.sqlite3'}"
    port = free_port()
    base = f"http://{LOOPBACK}:{port}/fhir"
    output = tmp_path / "serve.log"
    env = {
        **os.environ,
        "FHIRCRM_ENVIRONMENT": "test",
        "FHIRCRM_DATABASE_URL": database_url,
        "FHIRCRM_BASE_URL": base,
        "FHIRCRM_EMBEDDED_WORKER": "false",
    }
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fhircrm.cli", "serve", "--workers", "1", "--host", LOOPBACK, "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(f"{base}/metadata", alive=process)
            yield base, database_url, output
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _rename_resource_table(database_url: str, old: str, new: str) -> None:
    """Pull a table from under the running server, so its next search fails in the database itself."""
    if database_url.startswith("postgresql"):
        dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')
    else:
        import sqlite3

        with sqlite3.connect(database_url.split("///", 1)[1]) as conn:
            conn.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')


def test_fhircrm_serve_logs_no_phi_when_input_or_the_database_fails(served: tuple[str, str, Path]) -> None:
    base, database_url, output = served
    with httpx.Client(base_url=base, headers=FHIR_JSON, limits=httpx.Limits(max_connections=1)) as client:
        assert client.post("/Patient", json=PATIENT).status_code == 201
        for params in ({"family": f"{FAMILY}\x00"}, {"telecom": f"{PHONE}\x00"}):
            refused = client.get("/Patient", params=params)
            assert refused.status_code == 400
            assert refused.headers.get("connection") != "close"  # the keep-alive connection is kept ...
            assert client.get("/Patient", params={"family": FAMILY}).json()["total"] == 1  # ... and works
        _rename_resource_table(database_url, "resource", "resource_away")
        try:
            failed = client.get("/Patient", params={"family": FAMILY, "phone": PHONE})
        finally:
            _rename_resource_table(database_url, "resource_away", "resource")
        assert failed.status_code in (500, 503), failed.text
        assert client.get("/Patient", params={"family": FAMILY}).json()["total"] == 1
    logged = output.read_text(errors="replace")
    assert "database error" in logged or "unhandled error" in logged  # the failure was logged, ...
    assert [value for value in PHI if value in logged] == [], logged  # ... without the patient


async def test_a_job_failing_in_the_database_keeps_no_phi_in_its_dead_letter(
    clean_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    from fhircrm.jobs import JobRegistry, enqueue
    from fhircrm.jobs.runner import JobRunner
    from fhircrm.jobs.tables import job

    async def fails(conn, _job) -> None:  # type: ignore[no-untyped-def]
        statement = "SELECT * FROM no_such_table WHERE name = :name AND phone = :phone"
        if conn.dialect.name == "postgresql":
            statement = "SELECT CAST(:name AS integer), CAST(:phone AS date)"
        await conn.execute(sa.text(statement), {"name": NAME, "phone": PHONE})

    caplog.set_level(logging.DEBUG)
    registry = JobRegistry()
    registry.register("test.fails", fails, max_attempts=1)
    async with clean_engine.begin() as conn:
        await enqueue(conn, "test.fails", {})
    await JobRunner(clean_engine, registry).drain()
    async with clean_engine.connect() as conn:
        [row] = (await conn.execute(sa.select(job.c.status, job.c.last_error))).all()
    assert row.status == "dead"
    assert "Error at" in row.last_error  # the type and where it failed, ...
    assert [value for value in PHI if value in row.last_error + everything_logged(caplog.records)] == []  # ... no PHI
