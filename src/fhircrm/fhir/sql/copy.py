"""Bulk inserts: ``COPY ... FROM STDIN`` on PostgreSQL, multi-row ``INSERT`` elsewhere.

A 500-resource bundle makes ~20,000 index rows. As ``executemany`` those are 20,000 statements (psycopg
pipelines them, but each is still parsed, bound and executed); ``COPY`` streams them in one command, several
times faster. It runs on the caller's connection, so it is part of the caller's transaction like any statement.
"""

from __future__ import annotations

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


def _json_columns(table: sa.Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, sa.JSON))


async def insert_rows(conn: AsyncConnection, table: sa.Table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts keyed by column name; missing keys are NULL) into ``table``."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        await conn.execute(sa.insert(table), rows)
        return
    columns = [c.name for c in table.columns if c.name in rows[0]]
    json_columns = _json_columns(table) & set(columns)
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    raw = await conn.get_raw_connection()
    driver: psycopg.AsyncConnection = raw.driver_connection  # type: ignore[assignment]
    try:
        async with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [row.get(name) for name in columns]
                if json_columns:
                    values = [
                        orjson.dumps(value).decode() if name in json_columns and value is not None else value
                        for name, value in zip(columns, values, strict=True)
                    ]
                await copy.write_row(values)
    except psycopg.Error as exc:
        # Callers (and the API's error handlers) expect SQLAlchemy's exception classes, as for any statement.
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
