"""The delivery markers (``channel_delivery``): what the sender was doing when it last touched a message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhircrm.channels.tables import channel_delivery


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Marker:
    communication_id: str
    state: str  # sending | failed | sent
    attempt_id: str
    attempts: int
    provider: str
    provider_id: str | None
    started_at: datetime


async def get(conn: AsyncConnection, communication_id: str) -> Marker | None:
    row = (
        await conn.execute(sa.select(channel_delivery).where(channel_delivery.c.communication_id == communication_id))
    ).first()
    if row is None:
        return None
    return Marker(
        row.communication_id, row.state, row.attempt_id, row.attempts, row.provider, row.provider_id, row.started_at
    )


async def communication_of_attempt(conn: AsyncConnection, attempt_id: str) -> str | None:
    """The Communication id a delivery attempt was for (a status callback that names the attempt, not the
    provider's id), None when no marker has that attempt."""
    row = (
        await conn.execute(
            sa.select(channel_delivery.c.communication_id).where(channel_delivery.c.attempt_id == attempt_id)
        )
    ).first()
    return None if row is None else row.communication_id


async def sent_by_attempt(conn: AsyncConnection, attempt_id: str, provider_id: str) -> None:
    """The provider accepted the attempt (its callback says so before our own commit did): ``sent``, with its id."""
    await conn.execute(
        sa.update(channel_delivery)
        .where(channel_delivery.c.attempt_id == attempt_id)
        .values(state="sent", provider_id=provider_id)
    )


async def start(conn: AsyncConnection, communication_id: str, attempt_id: str, provider: str) -> None:
    now = utcnow()
    updated = await conn.execute(
        sa.update(channel_delivery)
        .where(channel_delivery.c.communication_id == communication_id)
        .values(
            state="sending",
            attempt_id=attempt_id,
            attempts=channel_delivery.c.attempts + 1,
            provider=provider,
            started_at=now,
            updated_at=now,
        )
    )
    if updated.rowcount == 0:
        await conn.execute(
            sa.insert(channel_delivery).values(
                communication_id=communication_id,
                state="sending",
                attempt_id=attempt_id,
                attempts=1,
                provider=provider,
                started_at=now,
                updated_at=now,
            )
        )


async def settle(conn: AsyncConnection, communication_id: str, state: str, provider_id: str | None = None) -> None:
    values: dict = {"state": state, "updated_at": utcnow()}
    if provider_id:
        values["provider_id"] = provider_id
    await conn.execute(
        sa.update(channel_delivery).where(channel_delivery.c.communication_id == communication_id).values(**values)
    )


async def committed(
    engine: AsyncEngine, conn: AsyncConnection, write: Callable[[AsyncConnection], Awaitable[None]]
) -> None:
    """Run ``write`` in its own, committed transaction before the caller goes on (PostgreSQL).

    SQLite has one writer at a time and the job runner's transaction holds it, so there the write joins the
    caller's transaction: the embedded single-process default trades the crash window for simplicity.
    """
    if conn.dialect.name == "postgresql":
        async with engine.begin() as own:
            await write(own)
    else:
        await write(conn)
