"""Wire complaints into the worker: the periodic SLA check (warnings, breaches, escalation)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.clock import current_time
from fhircrm.complaints.sla import check_slas
from fhircrm.fhir.access import ServiceScope
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings

    async def sweep(conn: AsyncConnection) -> None:
        await check_slas(
            open_store(conn, settings, policy=ServiceScope("complaints")),
            current_time(settings),
            settings.complaints_warning_fraction,
        )

    wiring.every("complaints.sla", settings.complaints_sla_check_seconds, sweep)
