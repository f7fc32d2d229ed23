"""Bulk jobs as rows: kick-off, status, steps, cancel, the manifest, expiry.

An export or import is one ``bulk_job`` row and a chain of queued steps (``fhircrm.jobs``): each step does a
bounded amount of work, writes its ndjson file(s), moves the row's cursor and queues the next step, all in the
step's transaction. A worker killed mid-step rolls that step back and the queue hands it to the next worker,
which starts from the committed cursor: nothing is written twice, nothing is lost.

Who may see a job: the client that kicked it off (its recorded owner: issuer, client, subject, kind). Anyone
else gets 404, as if the job did not exist.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.bulk.tables import bulk_file, bulk_job
from fhircrm.config import Settings
from fhircrm.errors import NotFound
from fhircrm.fhir.access import AccessPolicy, ServiceScope
from fhircrm.fhir.search.dates import format_instant
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs.queue import enqueue, utcnow
from fhircrm.subscriptions.owners import SERVICE, Owner, owner_of, owner_store

_JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EXPORT_STEP = "bulk.export"
IMPORT_STEP = "bulk.import"
NDJSON = "application/fhir+ndjson"
#: why a job stops when its client's access cannot be rebuilt (``owners.owner_store`` refused it)
OWNER_GONE = "the person or launch patient of the client that kicked this job off no longer exists on this server"


@dataclass(frozen=True, slots=True)
class BulkJob:
    id: str
    kind: str
    status: str
    owner: Owner
    request: str
    params: dict
    cursor: dict
    done_count: int
    transaction_time: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    error: str | None


def caller(policy: AccessPolicy | None) -> Owner:
    """The owner a kick-off records: the request's caller (development access and services: ``SERVICE``)."""
    return owner_of(policy) or SERVICE


#: fhircrm's own bulk work (kicked off with development access, or by an operator's command)
BULK_SERVICE = ServiceScope("bulk-data")


async def caller_store(conn: AsyncConnection, settings: Settings, owner: Owner) -> FhirStore:
    """A store that reads (and writes) as the job's client would today (``owners.owner_store``: roles resolved
    again); raises ``OwnerRefused`` when its person or launch patient is gone."""
    if owner.kind == "service":
        return FhirStore(conn, max_count=settings.max_page_size, policy=BULK_SERVICE)
    return await owner_store(conn, settings, owner)


def _same(a: Owner, b: Owner) -> bool:
    return (a.kind, a.issuer, a.client_id, a.subject) == (b.kind, b.issuer, b.client_id, b.subject)


async def create(
    conn: AsyncConnection, kind: str, owner: Owner, request: str, params: dict, cursor: dict, *, at: datetime
) -> str:
    """A new job and its first step, in the caller's transaction (a rollback leaves neither)."""
    job_id = str(uuid.uuid4())
    await conn.execute(
        sa.insert(bulk_job).values(
            id=job_id,
            kind=kind,
            status="running",
            owner=asdict(owner),
            request=request[:2000],
            params=params,
            cursor={**cursor, "step": 0},
            done_count=0,
            transaction_time=at,
            created_at=utcnow(),
        )
    )
    await enqueue(
        conn,
        EXPORT_STEP if kind == "export" else IMPORT_STEP,
        {"job": job_id, "step": 0},
        dedupe_key=f"bulk:{job_id}:0",
    )
    return job_id


def _job(row: sa.Row) -> BulkJob:
    return BulkJob(
        row.id,
        row.kind,
        row.status,
        Owner(**row.owner),
        row.request,
        row.params,
        row.cursor,
        row.done_count,
        row.transaction_time,
        row.finished_at,
        row.expires_at,
        row.error,
    )


async def load(conn: AsyncConnection, job_id: str, *, for_update: bool = False) -> BulkJob | None:
    query = sa.select(bulk_job).where(bulk_job.c.id == job_id[:36])
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _job(row) if row is not None else None


async def owned(conn: AsyncConnection, job_id: str, policy: AccessPolicy | None) -> BulkJob:
    """The job, if the caller kicked it off and it has not expired or been cancelled; else 404."""
    job = await load(conn, job_id) if _JOB_ID.match(job_id) else None
    if job is None or job.status == "cancelled" or not _same(job.owner, caller(policy)):
        raise NotFound("no such bulk job (unknown, expired, cancelled or not yours)")
    if job.expires_at is not None and job.expires_at < utcnow():
        raise NotFound("no such bulk job (unknown, expired, cancelled or not yours)")
    return job


async def advance(
    conn: AsyncConnection, job: BulkJob, cursor: dict, written: int, *, finished: bool, settings: Settings
) -> None:
    """Commit a step: the new cursor and count; the next step queued, or the job done."""
    step = int(job.cursor.get("step", 0)) + 1
    values: dict = {"cursor": {**cursor, "step": step}, "done_count": bulk_job.c.done_count + written}
    if finished:
        now = utcnow()
        values.update(status="done", finished_at=now, expires_at=now + timedelta(hours=settings.bulk_retention_hours))
    await conn.execute(sa.update(bulk_job).where(bulk_job.c.id == job.id).values(**values))
    if not finished:
        kind = EXPORT_STEP if job.kind == "export" else IMPORT_STEP
        await enqueue(conn, kind, {"job": job.id, "step": step}, dedupe_key=f"bulk:{job.id}:{step}")


async def fail(conn: AsyncConnection, job: BulkJob, reason: str, settings: Settings) -> None:
    now = utcnow()
    await conn.execute(
        sa.update(bulk_job)
        .where(bulk_job.c.id == job.id)
        .values(
            status="failed",
            error=reason[:2000],
            finished_at=now,
            expires_at=now + timedelta(hours=settings.bulk_retention_hours),
        )
    )


async def add_file(conn: AsyncConnection, job_id: str, kind: str, res_type: str, lines: list[str]) -> None:
    if lines:
        await conn.execute(
            sa.insert(bulk_file).values(
                job_id=job_id,
                kind=kind,
                res_type=res_type,
                count=len(lines),
                content="\n".join(lines) + "\n",
                created_at=utcnow(),
            )
        )


async def cancel(conn: AsyncConnection, job: BulkJob) -> None:
    """Stop the job (its queued step finds it cancelled and does nothing) and drop its files now."""
    await conn.execute(sa.delete(bulk_file).where(bulk_file.c.job_id == job.id))
    now = utcnow()
    await conn.execute(
        sa.update(bulk_job).where(bulk_job.c.id == job.id).values(status="cancelled", finished_at=now, expires_at=now)
    )


async def read_file(conn: AsyncConnection, job: BulkJob, file_id: int) -> str:
    row = (
        await conn.execute(
            sa.select(bulk_file.c.content).where(bulk_file.c.id == file_id, bulk_file.c.job_id == job.id)
        )
    ).first()
    if row is None:
        raise NotFound("no such bulk data file")
    return row.content


async def manifest(conn: AsyncConnection, job: BulkJob, base: str) -> dict:
    """The completion manifest: every file of the job, by type, with its URL under ``base``."""
    rows = await conn.execute(
        sa.select(bulk_file.c.id, bulk_file.c.kind, bulk_file.c.res_type, bulk_file.c.count)
        .where(bulk_file.c.job_id == job.id)
        .order_by(bulk_file.c.id)
    )
    output: list[dict] = []
    error: list[dict] = []
    for file_id, kind, res_type, count in rows:
        entry = {"type": res_type, "url": f"{base}/$bulk-files/{job.id}/{file_id}", "count": count}
        (error if kind == "error" else output).append(entry)
    body = {
        "transactionTime": format_instant(job.transaction_time),
        "request": job.request,
        "requiresAccessToken": True,
        "output": output,
        "error": error,
    }
    if job.kind == "import":
        body["extension"] = {"imported": job.done_count}
    return body


async def purge(conn: AsyncConnection) -> int:
    """Drop jobs past their expiry, with their files (the worker's periodic ``bulk.purge``)."""
    expired = sa.select(bulk_job.c.id).where(bulk_job.c.expires_at < utcnow())
    await conn.execute(sa.delete(bulk_file).where(bulk_file.c.job_id.in_(expired)))
    return (await conn.execute(sa.delete(bulk_job).where(bulk_job.c.expires_at < utcnow()))).rowcount
