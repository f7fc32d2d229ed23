"""Write resource versions: the current row, the history row and the index rows, in batches.

Every write in fhircrm, one resource or a 500-entry transaction, ends here as a list of ``Version``s, so a
bundle costs a handful of multi-row statements instead of thousands of round trips. On PostgreSQL the history
and index rows go in with ``COPY`` (one round trip per table, no per-row statement); SQLite takes plain
multi-row inserts, which are already cheap in-process.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.search.extract import index_rows
from fhircrm.fhir.sql.copy import insert_rows
from fhircrm.fhir.sql.tables import INDEX_TABLES, resource, resource_history


@dataclass(slots=True)
class Version:
    """One new version of a resource. ``res_pk`` is None for a resource the store has never seen."""

    res_type: str
    fhir_id: str
    version: int
    last_updated: datetime
    method: str  # POST | PUT | PATCH | DELETE
    content: dict | None  # None when deleted
    res_pk: int | None = None

    @property
    def deleted(self) -> bool:
        return self.content is None


async def write_versions(conn: AsyncConnection, versions: list[Version]) -> None:
    """Persist ``versions`` (distinct resources) and fill in ``res_pk`` of the new ones."""
    if not versions:
        return
    new = [v for v in versions if v.res_pk is None]
    existing = [v for v in versions if v.res_pk is not None]
    if new:
        await _insert_current(conn, new)
    if existing:
        await conn.execute(
            sa.update(resource)
            .where(resource.c.id == sa.bindparam("pk"))
            .values(
                version=sa.bindparam("version"),
                last_updated=sa.bindparam("last_updated"),
                deleted=sa.bindparam("deleted"),
                content=sa.bindparam("content"),
            ),
            [
                {"pk": v.res_pk, **_current_row(v, keys=("version", "last_updated", "deleted", "content"))}
                for v in existing
            ],
        )
        pks = [v.res_pk for v in existing]
        for table in INDEX_TABLES.values():
            await conn.execute(sa.delete(table).where(table.c.res_pk.in_(pks)))
    await insert_rows(
        conn,
        resource_history,
        [
            {
                "res_pk": v.res_pk,
                "version": v.version,
                "res_type": v.res_type,
                "fhir_id": v.fhir_id,
                "last_updated": v.last_updated,
                "method": v.method,
                "deleted": v.deleted,
                "content": v.content,
            }
            for v in versions
        ],
    )
    by_table: dict[str, list[dict]] = defaultdict(list)
    for v in versions:
        if v.content is None:
            continue
        for param_type, rows in index_rows(v.content).items():
            for row in rows:
                row["res_pk"] = v.res_pk
            by_table[param_type].extend(rows)
    for param_type, rows in by_table.items():
        await insert_rows(conn, INDEX_TABLES[param_type], rows)


async def _insert_current(conn: AsyncConnection, new: list[Version]) -> None:
    """Insert the current rows of new resources and fill in their ``res_pk``."""
    if conn.dialect.name == "postgresql":
        # Take the ids from the sequence first, then COPY: no 500-row INSERT statement to build and parse.
        pks = (await conn.execute(_NEXT_IDS, {"n": len(new)})).scalars().all()
        for version, pk in zip(new, pks, strict=True):
            version.res_pk = pk
        await insert_rows(conn, resource, [{"id": v.res_pk, **_current_row(v)} for v in new])
        return
    result = await conn.execute(
        sa.insert(resource).returning(resource.c.id, sort_by_parameter_order=True),
        [_current_row(v) for v in new],
    )
    for version, pk in zip(new, result.scalars(), strict=True):
        version.res_pk = pk


_NEXT_IDS = sa.text("SELECT nextval(pg_get_serial_sequence('resource', 'id')) FROM generate_series(1, :n)")


def _current_row(v: Version, keys: tuple[str, ...] | None = None) -> dict:
    row = {
        "res_type": v.res_type,
        "fhir_id": v.fhir_id,
        "version": v.version,
        "last_updated": v.last_updated,
        "deleted": v.deleted,
        "content": v.content,
    }
    return row if keys is None else {k: row[k] for k in keys}
