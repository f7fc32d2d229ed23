"""The worker's part of Bulk Data: the export and import steps, and the purge of expired jobs and files."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.bulk import export, imports, jobs
from fhircrm.runtime import Runtime
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    # a step is long (thousands of resources): one at a time, retried a few times, then dead for an operator
    wiring.jobs.register(jobs.EXPORT_STEP, export.install_steps(runtime.settings), max_attempts=5)
    wiring.jobs.register(jobs.IMPORT_STEP, imports.install_steps(runtime), max_attempts=5)

    async def purge(conn: AsyncConnection) -> None:
        await jobs.purge(conn)

    wiring.every("bulk.purge", 600, purge)
