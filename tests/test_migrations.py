"""The Alembic migrations build exactly the schema the code declares, on PostgreSQL and on SQLite.

A table, column, index or type changed in ``fhircrm.schema.metadata`` without a migration (or the reverse)
shows up here as a difference, with the list of what differs.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.migrate import alembic_config
from fhircrm.schema import metadata


def _differences(connection) -> list:  # type: ignore[no-untyped-def]
    context = MigrationContext.configure(connection, opts={"compare_type": True, "target_metadata": metadata})
    return compare_metadata(context, metadata)


async def test_migrated_database_matches_the_declared_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


async def test_migrated_database_is_at_the_single_head_revision(engine: AsyncEngine) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    async with engine.connect() as conn:
        current = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    assert (len(heads), set(current)) == (1, set(heads))
