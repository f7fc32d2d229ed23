"""Bulk writes on PostgreSQL: one pipelined round trip for small writes, ``COPY ... FROM STDIN`` for large ones.

A 500-resource bundle makes ~5,000 index rows. As ``executemany`` those are 5,000 statements (parsed, bound and
executed one by one); ``COPY`` streams them in one command, several times faster. But a ``COPY`` costs two round
trips per table, so a single-resource write (eight tables: ~16 round trips) is faster as INSERTs sent together in
one psycopg pipeline: one round trip whatever the number of statements. Both run on the caller's connection, so
they are part of the caller's transaction like any statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

#: Rows across all tables of one write below which pipelined INSERTs beat COPY.
PIPELINE_MAX_ROWS = 400


@dataclass(slots=True)
class Statement:
    """One SQL statement (psycopg ``%s`` placeholders) and its parameter tuples: run once per tuple."""

    sql: str
    params: Sequence[Sequence[object]]


@dataclass(slots=True)
class Rows:
    """Rows for one table, as tuples in ``columns`` order; ``casts`` per column for the INSERT form."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple]
    casts: tuple[str, ...] = ()

    def insert(self) -> Statement:
        casts = self.casts or ("",) * len(self.columns)
        values = ", ".join(f"%s{cast}" for cast in casts)
        return Statement(f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({values})", self.rows)


async def driver(conn: AsyncConnection) -> psycopg.AsyncConnection:
    raw = await conn.get_raw_connection()
    return raw.driver_connection  # type: ignore[return-value]


def _wrap(statement: str, exc: psycopg.Error) -> sa.exc.DBAPIError:
    # Callers (and the API's error handlers) expect SQLAlchemy's exception classes, as for any statement.
    return sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error)


async def run_pipelined(conn: AsyncConnection, statements: list[Statement]) -> None:
    """Run ``statements`` in order, in one round trip (a psycopg pipeline)."""
    statements = [s for s in statements if s.params]
    if not statements:
        return
    db = await driver(conn)
    current = statements[0].sql
    try:
        async with db.pipeline(), db.cursor() as cursor:
            for statement in statements:
                current = statement.sql
                if len(statement.params) == 1:
                    await cursor.execute(statement.sql, statement.params[0])
                else:
                    await cursor.executemany(statement.sql, statement.params)
    except psycopg.Error as exc:
        raise _wrap(current, exc) from exc


async def copy_rows(conn: AsyncConnection, rows: Rows) -> None:
    """``COPY`` ``rows`` into their table (text format; None is NULL; JSON columns are given as text)."""
    if not rows.rows:
        return
    statement = f"COPY {rows.table} ({', '.join(rows.columns)}) FROM STDIN"
    db = await driver(conn)
    try:
        async with db.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows.rows:
                await copy.write_row(row)
    except psycopg.Error as exc:
        raise _wrap(statement, exc) from exc
