"""Write resource versions: the current row, the history row and the index rows, in batches.

Every write in fhircrm, one resource or a 500-entry transaction, ends here as a list of ``Version``s, so a
bundle costs a handful of statements instead of thousands of round trips. On PostgreSQL a small write is two
round trips (new ids, then every row in one pipeline) and a large one streams each table with ``COPY``
(``fhir/sql/copy.py``); each resource's JSON is serialized once for its current and history rows. SQLite takes
driver-level executemany of the same tuples, which is cheap in-process.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.search.extract import affected_sps, index_rows
from fhircrm.fhir.search.param_types import PARAM_TYPES
from fhircrm.fhir.sql.copy import PIPELINE_MAX_ROWS, Rows, Statement, copy_rows, driver, run_pipelined
from fhircrm.fhir.sql.tables import metadata, resource


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
    new = [v for v in versions if v.res_pk is None]
    if conn.dialect.name == "postgresql":
        await _take_ids_postgresql(conn, new)
        await _write_postgresql(conn, _rows(versions, new))
    else:
        await _take_ids_sqlite(conn, new)
        await _write_sqlite(conn, _rows(versions, new))


_RESOURCE_COLUMNS = ("id", "res_type", "fhir_id", "version", "last_updated", "deleted", "content")
_RESOURCE_CASTS = ("", "", "", "", "", "", "::jsonb")
_HISTORY_COLUMNS = ("res_pk", "version", "res_type", "fhir_id", "last_updated", "method", "deleted", "content")
_HISTORY_CASTS = ("", "", "", "", "", "", "", "::jsonb")


@dataclass(slots=True)
class _Rows:
    """Everything one write changes, as tuples: the same for both databases, only the SQL differs."""

    updates: list[tuple]  # (version, last_updated, deleted, content, res_pk) of existing resources
    stale: list[tuple[str, list[int], list[int] | None]]  # index rows to delete: (table, res_pks, sps or all)
    tables: list[Rows]  # rows to insert: current rows of new resources, history, index rows


def _rows(versions: list[Version], new: list[Version]) -> _Rows:
    """Each resource's JSON serialized once, for its current (or updated) and history rows."""
    fresh = {id(v) for v in new}
    texts = {id(v): orjson.dumps(v.content).decode() if v.content is not None else None for v in versions}
    existing = [v for v in versions if id(v) not in fresh]
    return _Rows(
        updates=[(v.version, v.last_updated, v.deleted, texts[id(v)], v.res_pk) for v in existing],
        stale=_stale_index_rows(existing),
        tables=[
            Rows(
                "resource",
                _RESOURCE_COLUMNS,
                [(v.res_pk, v.res_type, v.fhir_id, v.version, v.last_updated, v.deleted, texts[id(v)]) for v in new],
                _RESOURCE_CASTS,
            ),
            Rows(
                "resource_history",
                _HISTORY_COLUMNS,
                [
                    (v.res_pk, v.version, v.res_type, v.fhir_id, v.last_updated, v.method, v.deleted, texts[id(v)])
                    for v in versions
                ],
                _HISTORY_CASTS,
            ),
            *_index_tuples(versions),
        ],
    )


# --- PostgreSQL: raw psycopg, pipelined or COPY --------------------------------------------------------------

_UPDATE_CURRENT = "UPDATE resource SET version = %s, last_updated = %s, deleted = %s, content = %s::jsonb WHERE id = %s"
_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('resource', 'id')) FROM generate_series(1, %s)"


async def _take_ids_postgresql(conn: AsyncConnection, new: list[Version]) -> None:
    if not new:
        return
    db = await driver(conn)
    async with db.cursor() as cursor:
        await cursor.execute(_NEXT_IDS, (len(new),))
        for version, (pk,) in zip(new, await cursor.fetchall(), strict=True):
            version.res_pk = pk


async def _write_postgresql(conn: AsyncConnection, rows: _Rows) -> None:
    """Small writes: one pipelined round trip for everything. Large writes: the updates and index deletions
    pipelined, then one ``COPY`` per table."""
    prelude = [Statement(_UPDATE_CURRENT, rows.updates)]
    for name, pks, sps in rows.stale:
        if sps is None:
            prelude.append(Statement(f"DELETE FROM {name} WHERE res_pk = ANY(%s)", [(pks,)]))
        else:
            prelude.append(Statement(f"DELETE FROM {name} WHERE res_pk = ANY(%s) AND sp = ANY(%s)", [(pks, sps)]))
    if sum(len(t.rows) for t in rows.tables) <= PIPELINE_MAX_ROWS:
        await run_pipelined(conn, [*prelude, *(t.insert() for t in rows.tables if t.rows)])
        return
    await run_pipelined(conn, prelude)
    for table in rows.tables:
        await copy_rows(conn, table)


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
            out += [(kind.table.name, pks, None) for kind in PARAM_TYPES.values()]
        else:
            out += [(PARAM_TYPES[name].table.name, pks, sps) for name, sps in affected_sps(*key).items()]
    return out


def _index_tuples(versions: list[Version]) -> list[Rows]:
    by_type: dict[str, list[tuple]] = defaultdict(list)
    for v in versions:
        if v.content is None:
            continue
        for param_type, rows in index_rows(v.content, v.changed).items():
            names = PARAM_TYPES[param_type].columns
            by_type[param_type].extend((v.res_pk, row["sp"], *(row.get(n) for n in names)) for row in rows)
    return [
        Rows(kind.table.name, ("res_pk", "sp", *kind.columns), rows)
        for kind, rows in ((PARAM_TYPES[name], rows) for name, rows in by_type.items())
    ]


# --- SQLite: executemany of plain tuples through the driver ----------------------------------------------------


async def _take_ids_sqlite(conn: AsyncConnection, new: list[Version]) -> None:
    """Ids for new resources in one step: the transaction holds SQLite's write lock from its start (``BEGIN
    IMMEDIATE``, see ``fhircrm.db``), so ``max(id)`` cannot move under us, and a plain executemany replaces one
    ``INSERT ... RETURNING`` per row."""
    if not new:
        return
    top = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(resource.c.id), 0)))).scalar_one()
    for offset, version in enumerate(new, start=1):
        version.res_pk = top + offset


_IN_JSON = "IN (SELECT value FROM json_each(?))"  # a whole id list as one parameter: no bound-variable limit


async def _write_sqlite(conn: AsyncConnection, rows: _Rows) -> None:
    """The same rows as on PostgreSQL, as driver-level executemany (no per-row SQL compilation); values are
    stored exactly as SQLAlchemy stores them (``_sqlite_values``), so reads through Core see no difference."""
    if rows.updates:
        fix = _sqlite_values("resource", ("version", "last_updated", "deleted", "content", "id"))
        await conn.exec_driver_sql(
            "UPDATE resource SET version = ?, last_updated = ?, deleted = ?, content = ? WHERE id = ?",
            [fix(row) for row in rows.updates],
        )
    for name, pks, sps in rows.stale:
        if sps is None:
            await conn.exec_driver_sql(f"DELETE FROM {name} WHERE res_pk {_IN_JSON}", (orjson.dumps(pks).decode(),))
        else:
            await conn.exec_driver_sql(
                f"DELETE FROM {name} WHERE res_pk {_IN_JSON} AND sp {_IN_JSON}",
                (orjson.dumps(pks).decode(), orjson.dumps(sps).decode()),
            )
    for table in rows.tables:
        if table.rows:
            fix = _sqlite_values(table.table, table.columns)
            placeholders = ", ".join("?" * len(table.columns))
            await conn.exec_driver_sql(
                f"INSERT INTO {table.table} ({', '.join(table.columns)}) VALUES ({placeholders})",
                [fix(row) for row in table.rows],
            )


@cache
def _sqlite_values(table: str, columns: tuple[str, ...]) -> Callable[[tuple], tuple]:
    """Turn a row of Python values into what SQLAlchemy would bind on SQLite: datetimes in its fixed text form
    (so that they compare as text), booleans as integers. JSON content arrives already serialized."""
    dialect = sqlite.dialect()
    processors = [
        None if name == "content" else metadata.tables[table].c[name].type._cached_bind_processor(dialect)
        for name in columns
    ]
    if not any(processors):
        return tuple

    def fix(row: tuple) -> tuple:
        return tuple(v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True))

    return fix
