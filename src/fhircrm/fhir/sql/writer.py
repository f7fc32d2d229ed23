"""Write resource versions: the current row, the history row and the index rows, in batches.

Every write in fhircrm, one resource or a 500-entry transaction, ends here as a list of ``Version``s, so a
bundle costs a handful of statements instead of thousands of round trips. On PostgreSQL a small write is two
round trips (new ids, then every row in one pipeline) and a large one streams each table with ``COPY``
(``fhir/sql/copy.py``); each resource's JSON is serialized once for its current and history rows. SQLite takes
executemany inserts, which are already cheap in-process.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.search.extract import affected_sps, index_rows
from fhircrm.fhir.sql.copy import PIPELINE_MAX_ROWS, Rows, Statement, copy_rows, driver, run_pipelined
from fhircrm.fhir.sql.tables import INDEX_TABLES, metadata, resource, resource_history


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
    #: Top-level elements changed since the stored version (see ``fhir.diff``); None: a new, restored or deleted
    #: resource, whose index rows are all (re)written.
    changed: frozenset[str] | None = None

    @property
    def deleted(self) -> bool:
        return self.content is None


async def write_versions(conn: AsyncConnection, versions: list[Version]) -> None:
    """Persist ``versions`` (distinct resources) and fill in ``res_pk`` of the new ones."""
    if not versions:
        return
    if conn.dialect.name == "postgresql":
        await _write_postgresql(conn, versions)
    else:
        await _write_generic(conn, versions)


# --- PostgreSQL: raw psycopg, content serialized once --------------------------------------------------------

_RESOURCE_COLUMNS = ("id", "res_type", "fhir_id", "version", "last_updated", "deleted", "content")
_RESOURCE_CASTS = ("", "", "", "", "", "", "::jsonb")
_HISTORY_COLUMNS = ("res_pk", "version", "res_type", "fhir_id", "last_updated", "method", "deleted", "content")
_HISTORY_CASTS = ("", "", "", "", "", "", "", "::jsonb")
_UPDATE_CURRENT = "UPDATE resource SET version = %s, last_updated = %s, deleted = %s, content = %s::jsonb WHERE id = %s"
_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('resource', 'id')) FROM generate_series(1, %s)"
_INDEX_COLUMNS = {
    param_type: tuple(c.name for c in table.columns if c.name not in ("res_pk", "sp"))
    for param_type, table in INDEX_TABLES.items()
}


async def _write_postgresql(conn: AsyncConnection, versions: list[Version]) -> None:
    """Small writes: one round trip for the ids of new resources, one pipelined round trip for everything else.
    Large writes: the updates and index deletions pipelined, then one ``COPY`` per table."""
    is_new = [v.res_pk is None for v in versions]
    new = [v for v, fresh in zip(versions, is_new, strict=True) if fresh]
    existing = [v for v, fresh in zip(versions, is_new, strict=True) if not fresh]
    if new:
        db = await driver(conn)
        async with db.cursor() as cursor:
            await cursor.execute(_NEXT_IDS, (len(new),))
            for version, (pk,) in zip(new, await cursor.fetchall(), strict=True):
                version.res_pk = pk
    texts = [orjson.dumps(v.content).decode() if v.content is not None else None for v in versions]
    prelude: list[Statement] = []
    if existing:
        prelude.append(
            Statement(
                _UPDATE_CURRENT,
                [
                    (v.version, v.last_updated, v.deleted, text, v.res_pk)
                    for v, text, fresh in zip(versions, texts, is_new, strict=True)
                    if not fresh
                ],
            )
        )
        for name, pks, sps in _stale_index_rows(existing):
            if sps is None:
                prelude.append(Statement(f"DELETE FROM {name} WHERE res_pk = ANY(%s)", [(pks,)]))
            else:
                prelude.append(Statement(f"DELETE FROM {name} WHERE res_pk = ANY(%s) AND sp = ANY(%s)", [(pks, sps)]))
    current = Rows(
        "resource",
        _RESOURCE_COLUMNS,
        [
            (v.res_pk, v.res_type, v.fhir_id, v.version, v.last_updated, v.deleted, text)
            for v, text, fresh in zip(versions, texts, is_new, strict=True)
            if fresh
        ],
        _RESOURCE_CASTS,
    )
    history = Rows(
        "resource_history",
        _HISTORY_COLUMNS,
        [
            (v.res_pk, v.version, v.res_type, v.fhir_id, v.last_updated, v.method, v.deleted, text)
            for v, text in zip(versions, texts, strict=True)
        ],
        _HISTORY_CASTS,
    )
    tables = [current, history, *_index_tuples(versions)]
    if sum(len(t.rows) for t in tables) <= PIPELINE_MAX_ROWS:
        await run_pipelined(conn, [*prelude, *(t.insert() for t in tables if t.rows)])
        return
    await run_pipelined(conn, prelude)
    for rows in tables:
        await copy_rows(conn, rows)


def _stale_index_rows(existing: list[Version]) -> list[tuple[str, list[int], list[int] | None]]:
    """The index rows that existing resources' new versions replace, as (table, res_pks, sps): every row of a
    deleted or wholly rewritten resource (sps None), else only those of the parameters that read a changed
    element. Updates of one type that change the same elements share one statement per table."""
    groups: dict[tuple[str, frozenset[str]] | None, list[int]] = defaultdict(list)
    for v in existing:
        key = None if v.changed is None or v.content is None else (v.res_type, v.changed)
        groups[key].append(v.res_pk)  # type: ignore[arg-type]
    out: list[tuple[str, list[int], list[int] | None]] = []
    for key, pks in groups.items():
        if key is None:
            out += [(table.name, pks, None) for table in INDEX_TABLES.values()]
        else:
            out += [(INDEX_TABLES[kind].name, pks, sps) for kind, sps in affected_sps(*key).items()]
    return out


def _index_tuples(versions: list[Version]) -> list[Rows]:
    by_type: dict[str, list[tuple]] = defaultdict(list)
    for v in versions:
        if v.content is None:
            continue
        for param_type, rows in index_rows(v.content, v.changed).items():
            names = _INDEX_COLUMNS[param_type]
            by_type[param_type].extend((v.res_pk, row["sp"], *(row.get(n) for n in names)) for row in rows)
    return [
        Rows(INDEX_TABLES[param_type].name, ("res_pk", "sp", *_INDEX_COLUMNS[param_type]), rows)
        for param_type, rows in by_type.items()
    ]


# --- SQLite (and any other database): SQLAlchemy Core ---------------------------------------------------------


async def _write_generic(conn: AsyncConnection, versions: list[Version]) -> None:
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
        for name, pks, sps in _stale_index_rows(existing):
            table = metadata.tables[name]
            stale = table.c.res_pk.in_(pks) if sps is None else table.c.res_pk.in_(pks) & table.c.sp.in_(sps)
            await conn.execute(sa.delete(table).where(stale))
    await conn.execute(
        sa.insert(resource_history),
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
        for param_type, rows in index_rows(v.content, v.changed).items():
            for row in rows:
                row["res_pk"] = v.res_pk
            by_table[param_type].extend(rows)
    for param_type, rows in by_table.items():
        await conn.execute(sa.insert(INDEX_TABLES[param_type]), rows)


async def _insert_current(conn: AsyncConnection, new: list[Version]) -> None:
    """Insert the current rows of new resources with ids taken in one step: the transaction holds SQLite's write
    lock from its start (``BEGIN IMMEDIATE``, see ``fhircrm.db``), so ``max(id)`` cannot move under us, and a
    plain executemany replaces one ``INSERT ... RETURNING`` per row."""
    top = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(resource.c.id), 0)))).scalar_one()
    for offset, version in enumerate(new, start=1):
        version.res_pk = top + offset
    await conn.execute(sa.insert(resource), [{"id": v.res_pk, **_current_row(v)} for v in new])


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
