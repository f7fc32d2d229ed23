"""The worker's part of Bulk Data: the export and import steps, and the purge of expired jobs and files."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.bulk import export, imports, jobs


def install(runtime, registry, _consumers, periodic) -> None:  # type: ignore[no-untyped-def]
    from fhircrm.worker import Periodic

    # a step is long (thousands of resources): one at a time, retried a few times, then dead for an operator
    registry.register(jobs.EXPORT_STEP, export.install_steps(runtime.settings), max_attempts=5)
    registry.register(jobs.IMPORT_STEP, imports.install_steps(runtime), max_attempts=5)

    async def purge(conn: AsyncConnection) -> None:
        await jobs.purge(conn)

    periodic.append(Periodic("bulk.purge", 600, purge))
