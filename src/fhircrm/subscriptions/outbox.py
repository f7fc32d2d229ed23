"""The publisher's outbox: per-Subscription counters and one delivery row per notification, with its jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.jobs import enqueue
from fhircrm.jobs.queue import enqueue_many, utcnow
from fhircrm.subscriptions.tables import subscription_counter, subscription_delivery

DELIVERY_JOB = "subscription-delivery"
ACTIVATE_JOB = "subscription-activate"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: str
    kind: str
    event_number: int | None
    focus: str | None
    focus_version: int | None
    status: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Counters:
    events_since_start: int = 0
    delivered: int = 0
    failed: int = 0
    last_error: str | None = None
    last_delivered_at: datetime | None = None


async def next_event_numbers(conn: AsyncConnection, subscription_id: str, count: int) -> range:
    """Count ``count`` more events for the Subscription at once; returns their numbers."""
    t = subscription_counter
    bumped = await conn.execute(
        sa.update(t)
        .where(t.c.subscription_id == subscription_id)
        .values(events_since_start=t.c.events_since_start + count)
        .returning(t.c.events_since_start)
    )
    top = bumped.scalar()
    if top is None:
        await conn.execute(
            sa.insert(t).values(subscription_id=subscription_id, events_since_start=count, delivered=0, failed=0)
        )
        top = count
    return range(int(top) - count + 1, int(top) + 1)


async def add_event_deliveries(
    conn: AsyncConnection, subscription_id: str, focuses: list[tuple[str, int | None]]
) -> list[int]:
    """One event per (focus, version), numbered in order, with their delivery rows and jobs: a few statements
    for a whole write batch instead of four per event."""
    if not focuses:
        return []
    numbers = await next_event_numbers(conn, subscription_id, len(focuses))
    now = utcnow()
    rows = [
        {
            "subscription_id": subscription_id,
            "kind": "event-notification",
            "event_number": number,
            "focus": focus,
            "focus_version": version,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for number, (focus, version) in zip(numbers, focuses, strict=True)
    ]
    inserted = await conn.execute(
        sa.insert(subscription_delivery).returning(subscription_delivery.c.id, sort_by_parameter_order=True), rows
    )
    ids = [int(r[0]) for r in inserted]
    await enqueue_many(
        conn, DELIVERY_JOB, [{"delivery": i} for i in ids], dedupe_keys=[f"sub-delivery:{i}:1" for i in ids]
    )
    return ids


async def counters(conn: AsyncConnection, subscription_id: str) -> Counters:
    t = subscription_counter
    row = (await conn.execute(sa.select(t).where(t.c.subscription_id == subscription_id))).first()
    if row is None:
        return Counters()
    return Counters(row.events_since_start, row.delivered, row.failed, row.last_error, row.last_delivered_at)


async def record_outcome(conn: AsyncConnection, subscription_id: str, *, error: str | None) -> None:
    t = subscription_counter
    if error is None:
        values = {"delivered": t.c.delivered + 1, "last_delivered_at": utcnow()}
    else:
        values = {"failed": t.c.failed + 1, "last_error": error[:2000]}
    updated = await conn.execute(sa.update(t).where(t.c.subscription_id == subscription_id).values(**values))
    if updated.rowcount == 0:
        await conn.execute(
            sa.insert(t).values(
                subscription_id=subscription_id,
                events_since_start=0,
                delivered=int(error is None),
                failed=int(error is not None),
                last_error=error,
                last_delivered_at=utcnow() if error is None else None,
            )
        )


async def schedule(conn: AsyncConnection, delivery_id: int, *, attempt: int, run_at: datetime | None = None) -> None:
    await enqueue(
        conn, DELIVERY_JOB, {"delivery": delivery_id}, dedupe_key=f"sub-delivery:{delivery_id}:{attempt}", run_at=run_at
    )


def _delivery(row: sa.Row) -> Delivery:
    return Delivery(
        row.id,
        row.subscription_id,
        row.kind,
        row.event_number,
        row.focus,
        row.focus_version,
        row.status,
        row.attempts,
        row.created_at,
    )


async def get_delivery(conn: AsyncConnection, delivery_id: int) -> Delivery | None:
    t = subscription_delivery
    row = (await conn.execute(sa.select(t).where(t.c.id == delivery_id).with_for_update())).first()
    return _delivery(row) if row else None


async def events(conn: AsyncConnection, subscription_id: str, low: int, high: int) -> list[Delivery]:
    t = subscription_delivery
    rows = await conn.execute(
        sa.select(t)
        .where(
            t.c.subscription_id == subscription_id,
            t.c.kind == "event-notification",
            t.c.event_number.between(low, high),
        )
        .order_by(t.c.event_number)
    )
    return [_delivery(r) for r in rows]


async def finish_delivery(
    conn: AsyncConnection, delivery_id: int, status: str, *, attempts: int, error: str | None = None
) -> None:
    t = subscription_delivery
    values: dict = {"status": status, "attempts": attempts, "last_error": error[:2000] if error else None}
    if status != "pending":
        values["finished_at"] = utcnow()
    await conn.execute(sa.update(t).where(t.c.id == delivery_id).values(**values))


async def replay(conn: AsyncConnection, subscription_id: str, *, since: int | None = None) -> int:
    """Dead deliveries (or every event from ``since``) back to pending, each with a fresh job."""
    t = subscription_delivery
    query = sa.select(t.c.id).where(t.c.subscription_id == subscription_id)
    if since is None:
        query = query.where(t.c.status == "dead")
    else:
        query = query.where(t.c.kind == "event-notification", t.c.event_number >= since)
    ids = [r[0] for r in await conn.execute(query)]
    stamp = utcnow().strftime("%Y%m%d%H%M%S%f")
    for delivery_id in ids:
        await conn.execute(
            sa.update(t).where(t.c.id == delivery_id).values(status="pending", attempts=0, finished_at=None)
        )
        await enqueue(conn, DELIVERY_JOB, {"delivery": delivery_id}, dedupe_key=f"sub-replay:{delivery_id}:{stamp}")
    return len(ids)
