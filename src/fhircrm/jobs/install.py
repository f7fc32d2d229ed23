"""The job queue's own upkeep: purge finished jobs past their retention, and on SQLite optimize the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.db import optimize
from fhircrm.jobs.queue import purge_done
from fhircrm.runtime import Runtime
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    retention = timedelta(days=runtime.settings.job_retention_days)

    async def purge(conn: AsyncConnection) -> None:
        await purge_done(conn, older_than=retention)

    wiring.every("jobs.purge", 3600, purge)
    if runtime.settings.is_sqlite:
        wiring.every("db.optimize", 3600, optimize)
