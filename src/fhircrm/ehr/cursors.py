"""Read and advance the resumable sync cursors (``ehr_sync_state``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.ehr.tables import ehr_sync_state
from fhircrm.jobs.queue import utcnow


async def get_cursor(conn: AsyncConnection, name: str) -> str | None:
    return (await conn.execute(sa.select(ehr_sync_state.c.cursor).where(ehr_sync_state.c.name == name))).scalar()


async def set_cursor(conn: AsyncConnection, name: str, cursor: str) -> None:
    updated = await conn.execute(
        sa.update(ehr_sync_state).where(ehr_sync_state.c.name == name).values(cursor=cursor, updated_at=utcnow())
    )
    if updated.rowcount == 0:
        await conn.execute(sa.insert(ehr_sync_state).values(name=name, cursor=cursor, updated_at=utcnow()))
