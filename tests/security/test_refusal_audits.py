"""Every refusal under /fhir leaves exactly one AuditEvent (issue #13), whatever refused it: the token check, the
policy, the router (no such path, method), the store, the validators; its stored strings hold no control
characters even when the request did; and an audit record that cannot be written as it is still gets an
AuditEvent, while one that keeps failing ends in the dead letters after a bounded number of attempts."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import clinic, seed, token
from tests.security.test_audit_events import audit_events

from fhircrm.audit import AUDIT_JOB
from fhircrm.audit.install import install
from fhircrm.audit.writer import MAX_ATTEMPTS
from fhircrm.config import Settings
from fhircrm.fhir.inputs import ANY_CONTROL
from fhircrm.jobs import enqueue
from fhircrm.jobs.runner import JobRunner
from fhircrm.jobs.tables import job
from fhircrm.runtime import Runtime
from fhircrm.wiring import Wiring

Api = Callable[[str | None], httpx.AsyncClient]
Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def staff() -> str:
    """A user/*.cruds token, minted when the test runs: one made at import expires in a long session."""
    return token("user/*.cruds")


def _patch(ops: list) -> dict:
    return {"content": orjson.dumps(ops), "headers": {"Content-Type": "application/json-patch+json"}}


#: status, the token (made when the test runs), the request
REFUSALS: dict[str, tuple[int, Callable[[], str] | None, Request]] = {
    "400 NUL in an id": (400, staff, lambda c: c.get("/Patient/p1%00x")),
    "400 NUL in a search value": (400, staff, lambda c: c.get("/Patient", params={"family": "Okafor\x00"})),
    "400 huge _offset": (400, staff, lambda c: c.get("/Patient", params={"_offset": "1" + "0" * 30})),
    "401 no token": (401, None, lambda c: c.get("/Patient/p1")),
    "401 refresh token": (401, lambda: token("user/*.rs", token_use="refresh"), lambda c: c.get("/Patient/p1")),
    "403 another patient": (403, lambda: token("patient/*.rs", patient="p1"), lambda c: c.get("/Patient/p2")),
    "404 unknown type": (404, staff, lambda c: c.get("/Pat%00ient")),
    "404 unknown id": (404, staff, lambda c: c.get("/Patient/nobody")),
    "404 no such endpoint": (404, staff, lambda c: c.get("/Patient/p1/_history/1/more/parts")),
    "404 unknown instance path": (404, staff, lambda c: c.get("/Patient/p1/whatever")),
    "405 routing": (405, staff, lambda c: c.delete("")),
    "405 append-only": (405, staff, lambda c: c.delete("/AuditEvent/x")),
    "409 patch test fails": (
        409,
        staff,
        lambda c: c.patch("/Patient/p1", **_patch([{"op": "test", "path": "/id", "value": "p2"}])),
    ),
    "412 stale If-Match": (
        412,
        staff,
        lambda c: c.put("/Patient/p1", json={"resourceType": "Patient", "id": "p1"}, headers={"If-Match": 'W/"9"'}),
    ),
    "422 NUL in a resource string": (
        422,
        staff,
        lambda c: c.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Ok\x00afor"}]}),
    ),
    "501 unknown type operation": (501, staff, lambda c: c.get("/Patient/$no-such-op")),
    "501 instance operation": (501, staff, lambda c: c.post("/Patient/p1/$no-such-op", json={})),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_every_refusal_leaves_one_audit_event(api: Api, clean_engine: AsyncEngine, case: str) -> None:
    status, bearer, send = REFUSALS[case]
    await seed(clean_engine, *clinic())
    async with api(bearer() if bearer else None) as client:
        answer = await send(client)
    assert answer.status_code == status, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    [event] = await audit_events(clean_engine)
    assert event["outcome"] == ("8" if status >= 500 else "4")
    assert event["outcomeDesc"].startswith(f"{status} ")
    stored = orjson.dumps(event).decode()
    assert "\\u0000" not in stored and not ANY_CONTROL.search(stored)
    for entity in event.get("entity", []):
        if "query" in entity:
            assert not ANY_CONTROL.search(base64.b64decode(entity["query"]).decode(errors="replace"))
    async with clean_engine.connect() as conn:
        jobs = (await conn.execute(sa.select(job.c.status).where(job.c.kind == AUDIT_JOB))).scalars().all()
    assert jobs == ["done"]  # nothing left to retry


async def test_an_audit_record_the_store_refuses_is_kept_without_its_details(clean_engine: AsyncEngine) -> None:
    # what a 501 on an unknown operation (Patient/$export, before it landed) queued before the fix: an entity
    # reference the store cannot keep
    record = {
        "interaction": "operation",
        "outcome": 4,
        "recorded": "2026-12-02T09:00:00Z",
        "user": "Practitioner/7",
        "resource_type": "Patient",
        "entities": ["Patient/$export"],
        "status": 501,
        "description": "501 not-supported",
    }
    async with clean_engine.begin() as conn:
        await enqueue(conn, AUDIT_JOB, record)
    [event] = await audit_events(clean_engine)
    assert event["outcomeDesc"] == "501 not-supported (details not recordable)"
    assert "entity" not in event


async def test_an_audit_job_that_keeps_failing_ends_dead_after_bounded_attempts(clean_engine: AsyncEngine) -> None:
    async with clean_engine.begin() as conn:
        await enqueue(conn, AUDIT_JOB, {"interaction": "read"})  # no outcome: can never become an AuditEvent
    wiring = Wiring()
    install(wiring, Runtime(Settings(environment="test"), clean_engine, None))  # type: ignore[arg-type]  (no HTTP)
    runner = JobRunner(clean_engine, wiring.jobs)
    for _ in range(MAX_ATTEMPTS + 3):
        async with clean_engine.begin() as conn:  # due now, not after the backoff
            await conn.execute(sa.update(job).where(job.c.status == "pending").values(run_at=sa.func.now()))
        await runner.drain()
    async with clean_engine.connect() as conn:
        [row] = (await conn.execute(sa.select(job.c.status, job.c.attempts, job.c.last_error))).all()
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
    assert row.last_error.startswith("KeyError")
