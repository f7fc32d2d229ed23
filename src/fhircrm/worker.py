"""The worker process: runs queued jobs and periodic sweeps. Run one or many (``fhircrm worker``).

Jobs are claimed with SKIP LOCKED, so workers share the queue; each periodic task runs under a PostgreSQL
advisory lock, so with several workers only one runs it at a time. The API processes never start this.
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from fhircrm.audit.install import install as install_audit
from fhircrm.bulk.install import install as install_bulk
from fhircrm.channels.install import install as install_channels
from fhircrm.complaints.install import install as install_complaints
from fhircrm.education.install import install as install_education
from fhircrm.ehr.install import install as install_ehr
from fhircrm.jobs.install import install as install_jobs
from fhircrm.jobs.listen import listen
from fhircrm.jobs.periodic import Periodic, run_periodic
from fhircrm.jobs.runner import JobRunner
from fhircrm.journeys.install import install as install_journeys
from fhircrm.noshow.install import install as install_noshow
from fhircrm.runtime import Runtime
from fhircrm.segments.install import install as install_segments
from fhircrm.subscriptions.install import install as install_subscriptions
from fhircrm.surveys.install import install as install_surveys
from fhircrm.timers.install import install as install_timers
from fhircrm.waitlist.install import install as install_waitlist
from fhircrm.wiring import Installer, Wiring

log = logging.getLogger(__name__)

#: Every package's installer, in the order their parts are added (a new package adds its line here).
INSTALLERS: tuple[Installer, ...] = (
    install_jobs,
    install_audit,
    install_channels,
    install_ehr,
    install_subscriptions,
    install_timers,
    install_noshow,
    install_journeys,
    install_waitlist,
    install_segments,
    install_surveys,
    install_complaints,
    install_education,
    install_bulk,
)


def build_wiring(runtime: Runtime, installers: tuple[Installer, ...] = INSTALLERS) -> Wiring:
    """Every job kind, event consumer, periodic task and timer kind fhircrm has."""
    wiring = Wiring()
    for install in installers:
        install(wiring, runtime)
    return wiring


async def run_worker(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    wiring: Wiring | None = None,
) -> None:
    settings, engine = runtime.settings, runtime.engine
    wiring = wiring or build_wiring(runtime)
    runner = JobRunner(engine, wiring.jobs, poll_interval=settings.worker_poll_seconds)
    scheduler = AsyncIOScheduler(timezone="UTC")

    for task in wiring.periodic:

        async def tick(task: Periodic = task) -> None:
            try:
                await run_periodic(engine, task)
            except Exception:
                log.exception("periodic task %s failed", task.name)

        scheduler.add_job(tick, "interval", seconds=task.seconds, id=task.name, max_instances=1, coalesce=True)
    scheduler.start()
    tasks = [asyncio.create_task(runner.run_forever(stop))]
    if engine.dialect.name == "postgresql":
        tasks.append(asyncio.create_task(listen(settings.database_url, lambda _kind: runner.wake(), stop)))
    log.info("worker started: %d job kinds, %d periodic tasks", len(wiring.jobs.kinds), len(wiring.periodic))
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log.info("worker stopped")
