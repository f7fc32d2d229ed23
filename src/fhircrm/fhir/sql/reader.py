"""Read current and past versions, and history pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.sql.tables import resource, resource_history


@dataclass(frozen=True, slots=True)
class Current:
    """The current row of a resource (content is None when it is deleted)."""

    res_pk: int
    res_type: str
    fhir_id: str
    version: int
    last_updated: datetime
    content: dict | None

    @property
    def deleted(self) -> bool:
        return self.content is None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    res_type: str
    fhir_id: str
    version: int
    last_updated: datetime
    method: str
    content: dict | None


_CURRENT_COLUMNS = (
    resource.c.id,
    resource.c.res_type,
    resource.c.fhir_id,
    resource.c.version,
    resource.c.last_updated,
    resource.c.content,
)


def _current(row: sa.Row) -> Current:
    return Current(row[0], row[1], row[2], row[3], row[4], row[5])


async def current(
    conn: AsyncConnection, keys: Iterable[tuple[str, str]], *, for_update: bool = False
) -> dict[tuple[str, str], Current]:
    """Current rows for (type, id) keys, deleted ones included; locked when ``for_update``."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    # One ``res_type = t AND fhir_id IN (...)`` per type: a 500-pair tuple IN costs more to compile than to run.
    by_type: dict[str, list[str]] = {}
    for res_type, fhir_id in keys:
        by_type.setdefault(res_type, []).append(fhir_id)
    found: dict[tuple[str, str], Current] = {}
    for res_type, ids in by_type.items():
        for start in range(0, len(ids), 1000):
            query = sa.select(*_CURRENT_COLUMNS).where(
                resource.c.res_type == res_type, resource.c.fhir_id.in_(ids[start : start + 1000])
            )
            if for_update:
                query = query.with_for_update()
            for row in await conn.execute(query):
                found[(row[1], row[2])] = _current(row)
    return found


async def by_pks(conn: AsyncConnection, pks: Sequence[int]) -> list[dict]:
    """Contents of live resources by primary key, in the order given."""
    if not pks:
        return []
    rows = await conn.execute(
        sa.select(resource.c.id, resource.c.content).where(resource.c.id.in_(pks), resource.c.deleted.is_(False))
    )
    by_pk = {pk: content for pk, content in rows}
    return [by_pk[pk] for pk in pks if pk in by_pk]


async def version(conn: AsyncConnection, res_type: str, fhir_id: str, version_id: int) -> HistoryEntry | None:
    row = (
        await conn.execute(
            sa.select(
                resource_history.c.res_type,
                resource_history.c.fhir_id,
                resource_history.c.version,
                resource_history.c.last_updated,
                resource_history.c.method,
                resource_history.c.content,
            )
            .join(resource, resource.c.id == resource_history.c.res_pk)
            .where(
                resource.c.res_type == res_type,
                resource.c.fhir_id == fhir_id,
                resource_history.c.version == version_id,
            )
        )
    ).first()
    return HistoryEntry(*row) if row else None


async def history(
    conn: AsyncConnection,
    *,
    res_type: str | None = None,
    fhir_id: str | None = None,
    since: datetime | None = None,
    at: datetime | None = None,
    offset: int = 0,
    limit: int = 20,
) -> list[HistoryEntry]:
    """A page of versions, newest first, at system, type or instance level."""
    h = resource_history
    query = sa.select(h.c.res_type, h.c.fhir_id, h.c.version, h.c.last_updated, h.c.method, h.c.content)
    if fhir_id is not None:
        query = query.join(resource, resource.c.id == h.c.res_pk).where(
            resource.c.res_type == res_type, resource.c.fhir_id == fhir_id
        )
    elif res_type is not None:
        query = query.where(h.c.res_type == res_type)
    if since is not None:
        query = query.where(h.c.last_updated >= since)
    if at is not None:
        query = query.where(h.c.last_updated <= at)
    query = query.order_by(h.c.last_updated.desc(), h.c.res_pk.desc(), h.c.version.desc())
    rows = await conn.execute(query.offset(offset).limit(limit))
    return [HistoryEntry(*row) for row in rows]
