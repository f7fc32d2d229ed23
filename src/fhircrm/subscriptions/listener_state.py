"""Per-subscription listener state: the event high-water mark, and which event numbers were processed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.jobs.queue import utcnow
from fhircrm.subscriptions.tables import ehr_notification_event, ehr_subscription_state


@dataclass(slots=True)
class State:
    name: str
    ehr_subscription: str | None
    last_event: int
    last_status: str | None
    last_received_at: datetime | None


async def load(conn: AsyncConnection, name: str) -> State:
    """The state row, locked for this transaction (created when new)."""
    t = ehr_subscription_state
    row = (await conn.execute(sa.select(t).where(t.c.name == name).with_for_update())).first()
    if row is None:
        await conn.execute(sa.insert(t).values(name=name, last_event=0))
        return State(name, None, 0, None, None)
    return State(row.name, row.ehr_subscription, row.last_event, row.last_status, row.last_received_at)


async def save(conn: AsyncConnection, state: State) -> None:
    t = ehr_subscription_state
    await conn.execute(
        sa.update(t)
        .where(t.c.name == state.name)
        .values(
            ehr_subscription=state.ehr_subscription,
            last_event=state.last_event,
            last_status=state.last_status,
            last_received_at=state.last_received_at,
        )
    )


async def mark_processed(conn: AsyncConnection, name: str, number: int, status_id: str | None = None) -> bool:
    """Record event ``number`` (and the notification that brought it); False when it was already processed."""
    values = {"name": name, "number": number, "processed_at": utcnow(), "status_id": status_id}
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(ehr_notification_event).values(values).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports no row count for ON CONFLICT DO NOTHING.
    return (await conn.execute(statement.returning(ehr_notification_event.c.number))).first() is not None


async def processed(conn: AsyncConnection, name: str, low: int, high: int) -> set[int]:
    t = ehr_notification_event
    rows = await conn.execute(sa.select(t.c.number).where(t.c.name == name, t.c.number.between(low, high)))
    return {r[0] for r in rows}


async def status_ids(conn: AsyncConnection, name: str, numbers: list[int]) -> dict[int, str | None]:
    """The notifications that brought these processed numbers (None where not recorded)."""
    t = ehr_notification_event
    rows = await conn.execute(sa.select(t.c.number, t.c.status_id).where(t.c.name == name, t.c.number.in_(numbers)))
    return {r.number: r.status_id for r in rows}


async def forget_numbers(conn: AsyncConnection, name: str) -> None:
    """The EHR's Subscription behind ``name`` was replaced, or the EHR restarted: its numbering starts again."""
    t = ehr_notification_event
    await conn.execute(sa.delete(t).where(t.c.name == name))
