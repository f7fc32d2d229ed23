"""Enqueue, claim, finish and retry jobs: the SQL of the outbox.

A worker claims due jobs with ``SELECT ... FOR UPDATE SKIP LOCKED`` and keeps the row locks while it runs them,
so several workers on PostgreSQL never run the same job, and a worker that dies releases its locks with its
connection: the jobs become claimable again and nothing is lost. (SQLite has no row locks; the embedded default
runs one worker.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.jobs.tables import job

NOTIFY_CHANNEL = "fhircrm_jobs"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict
    attempts: int  # including the current one
    dedupe_key: str | None


async def enqueue(
    conn: AsyncConnection,
    kind: str,
    payload: dict,
    *,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
) -> bool:
    """Add a job in the caller's transaction. Returns False when a job with ``dedupe_key`` already exists."""
    return await enqueue_many(conn, kind, [payload], dedupe_keys=[dedupe_key], run_at=run_at) == 1


async def enqueue_many(
    conn: AsyncConnection,
    kind: str,
    payloads: list[dict],
    *,
    dedupe_keys: list[str | None] | None = None,
    run_at: datetime | None = None,
) -> int:
    """Add several jobs of one kind in a few statements (a write that fans out, e.g. one per matched subscriber).

    Returns how many were added (those whose ``dedupe_key`` already exists are skipped).
    """
    now = utcnow()
    keys = dedupe_keys or [None] * len(payloads)
    if not payloads:
        return 0
    if conn.dialect.name == "postgresql":
        # One fixed statement whatever the batch size (nothing to compile per call, arrays as parameters), and the
        # worker wake-up in the same round trip: a write that emits events costs one round trip here, not two.
        row = await conn.execute(
            _INSERT_MANY_POSTGRESQL,
            {
                "kind": kind,
                # One JSON document for the batch: orjson writes it at C speed, where a text[] parameter would be
                # escaped element by element in Python.
                "items": orjson.dumps(
                    [{"key": key, "payload": payload} for key, payload in zip(keys, payloads, strict=True)]
                ).decode(),
                "run_at": run_at or now,
                "now": now,
                "channel": NOTIFY_CHANNEL,
            },
        )
        return int(row.one()[0])
    rows = [
        {
            "kind": kind,
            "dedupe_key": key,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "run_at": run_at or now,
            "created_at": now,
        }
        for payload, key in zip(payloads, keys, strict=True)
    ]
    added = 0
    for start in range(0, len(rows), 500):  # well under SQLite's bound-parameter limit
        statement = (
            sqlite.insert(job).values(rows[start : start + 500]).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        added += len((await conn.execute(statement.returning(job.c.id))).all())
    return added


# pg_notify is delivered at commit (and dropped on rollback): it wakes idle workers at once instead of at their next
# poll. A repeated dedupe_key (already queued, or twice in the batch) is skipped by ON CONFLICT DO NOTHING.
_INSERT_MANY_POSTGRESQL = sa.text(
    """
    WITH added AS (
        INSERT INTO job (kind, dedupe_key, payload, status, attempts, run_at, created_at)
        SELECT :kind, item.value ->> 'key', item.value -> 'payload', 'pending', 0, :run_at, :now
        FROM jsonb_array_elements(CAST(:items AS jsonb)) WITH ORDINALITY AS item(value, n)
        ORDER BY item.n
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
    )
    SELECT counted.n, CASE WHEN counted.n > 0 THEN pg_notify(:channel, :kind) END
    FROM (SELECT count(*) AS n FROM added) AS counted
    """
)


async def claim(conn: AsyncConnection, kinds: list[str], *, limit: int) -> list[Job]:
    """Lock up to ``limit`` due pending jobs of ``kinds`` for the rest of the caller's transaction."""
    rows = await conn.execute(
        sa.select(job.c.id, job.c.kind, job.c.payload, job.c.attempts, job.c.dedupe_key)
        .where(job.c.status == "pending", job.c.run_at <= utcnow(), job.c.kind.in_(kinds))
        .order_by(job.c.run_at, job.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Job(r.id, r.kind, r.payload, r.attempts + 1, r.dedupe_key) for r in rows]


async def finish(conn: AsyncConnection, job_ids: list[int]) -> None:
    if job_ids:
        await conn.execute(
            sa.update(job)
            .where(job.c.id.in_(job_ids))
            .values(status="done", attempts=job.c.attempts + 1, finished_at=utcnow(), last_error=None)
        )


def backoff(attempts: int, *, base: float = 2.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff: 2 s, 4 s, 8 s ... capped at an hour."""
    return timedelta(seconds=min(cap, base**attempts))


async def fail(
    conn: AsyncConnection, failed: Job, error: str, *, max_attempts: int, retry_at: datetime | None = None
) -> str:
    """Record a failed attempt: retry later with backoff, or move to ``dead`` when attempts are used up."""
    dead = failed.attempts >= max_attempts
    values: dict = {"attempts": failed.attempts, "last_error": error[:2000]}
    if dead:
        values.update(status="dead", finished_at=utcnow())
    else:
        values["run_at"] = retry_at or utcnow() + backoff(failed.attempts)
    await conn.execute(sa.update(job).where(job.c.id == failed.id).values(**values))
    return "dead" if dead else "retry"


async def retry_dead(conn: AsyncConnection, *, kind: str | None = None, job_ids: list[int] | None = None) -> int:
    """Put dead jobs back in the queue (an operator's replay after fixing the cause)."""
    query = sa.update(job).where(job.c.status == "dead")
    if kind:
        query = query.where(job.c.kind == kind)
    if job_ids:
        query = query.where(job.c.id.in_(job_ids))
    result = await conn.execute(query.values(status="pending", attempts=0, run_at=utcnow(), finished_at=None))
    return result.rowcount


async def counts(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """Jobs by (kind, status): for health pages and tests."""
    rows = await conn.execute(sa.select(job.c.kind, job.c.status, sa.func.count()).group_by(job.c.kind, job.c.status))
    return {(kind, status): n for kind, status, n in rows}


async def purge_done(conn: AsyncConnection, *, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete finished jobs past their retention (dead ones stay until an operator replays or drops them)."""
    result = await conn.execute(sa.delete(job).where(job.c.status == "done", job.c.finished_at < utcnow() - older_than))
    return result.rowcount
