"""The subscriptions package's worker wiring: EHR notification processing, gap fills, the EHR subscription watch,
our deliveries."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.ehr.install import ehr_client
from fhircrm.jobs import Job
from fhircrm.runtime import Runtime
from fhircrm.subscriptions import watch
from fhircrm.subscriptions.delivery import activate, deliver
from fhircrm.subscriptions.inbound import NOTIFICATION_JOB
from fhircrm.subscriptions.outbox import ACTIVATE_JOB, DELIVERY_JOB
from fhircrm.subscriptions.processing import GAP_JOB, fill_gap, process_notification
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    async def delivery_job(conn: AsyncConnection, job: Job) -> None:
        await deliver(conn, job, runtime=runtime)

    async def activate_job(conn: AsyncConnection, job: Job) -> None:
        await activate(conn, job, runtime=runtime)

    wiring.jobs.register(DELIVERY_JOB, delivery_job, batch_size=1)
    wiring.jobs.register(ACTIVATE_JOB, activate_job)
    if not runtime.settings.ehr_base_url:
        return

    async def notification_job(conn: AsyncConnection, job: Job) -> None:
        await process_notification(conn, job, client=ehr_client(runtime), settings=runtime.settings)

    async def gap_job(conn: AsyncConnection, job: Job) -> None:
        await fill_gap(conn, job, client=ehr_client(runtime), settings=runtime.settings)

    wiring.jobs.register(NOTIFICATION_JOB, notification_job, max_attempts=20)
    wiring.jobs.register(GAP_JOB, gap_job, max_attempts=20)
    if runtime.settings.ehr_watch_seconds > 0:

        async def watch_round(conn: AsyncConnection) -> None:
            await watch.run(conn, ehr_client(runtime), runtime.settings)

        wiring.every("ehr-subscription-watch", runtime.settings.ehr_watch_seconds, watch_round)
