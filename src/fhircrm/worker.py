"""The worker process: runs queued jobs and periodic sweeps. Run one or many (``fhircrm worker``).

Jobs are claimed with SKIP LOCKED, so workers share the queue; each periodic task runs under a PostgreSQL
advisory lock, so with several workers only one runs it at a time. The API processes never start this.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhircrm import audit
from fhircrm.bulk.install import install as install_bulk
from fhircrm.channels.install import install as install_channels
from fhircrm.complaints.install import install as install_complaints
from fhircrm.db import optimize
from fhircrm.education.install import install as install_education
from fhircrm.ehr.install import install as install_ehr
from fhircrm.events import EVENT_JOB, EventConsumers
from fhircrm.jobs.listen import listen
from fhircrm.jobs.queue import purge_done
from fhircrm.jobs.registry import JobRegistry
from fhircrm.jobs.runner import JobRunner
from fhircrm.journeys.install import install as install_journeys
from fhircrm.noshow.install import install as install_noshow
from fhircrm.runtime import Runtime
from fhircrm.segments.install import install as install_segments
from fhircrm.subscriptions.install import install as install_subscriptions
from fhircrm.surveys.install import install as install_surveys
from fhircrm.timers.install import install as install_timers
from fhircrm.waitlist.install import install as install_waitlist

log = logging.getLogger(__name__)

PeriodicFunc = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    seconds: float
    func: PeriodicFunc


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


async def run_periodic(engine: AsyncEngine, task: Periodic) -> bool:
    """Run ``task`` in one transaction if no other worker is running it now; returns whether it ran."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            got = (await conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(lock_key(task.name))))).scalar()
            if not got:
                return False
        await task.func(conn)
    return True


#: ``install(runtime, jobs, consumers, periodic)``: how a domain package adds its job kinds, event consumers
#: and periodic tasks. Each package exposes one installer; list it in ``INSTALLERS``.
Installer = Callable[[Runtime, JobRegistry, EventConsumers, list[Periodic]], None]

INSTALLERS: list[Installer] = [
    audit.install,
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
]


def build_registry(runtime: Runtime) -> tuple[JobRegistry, list[Periodic]]:
    """Every job kind, event consumer and periodic task fhircrm has."""
    jobs, consumers = JobRegistry(), EventConsumers()
    jobs.register(EVENT_JOB, consumers.dispatch, batch_size=100, batch_handler=consumers.dispatch_batch)
    retention = timedelta(days=runtime.settings.job_retention_days)

    async def purge(conn: AsyncConnection) -> None:
        await purge_done(conn, older_than=retention)

    periodic = [Periodic("jobs.purge", 3600, purge)]
    if runtime.settings.is_sqlite:
        periodic.append(Periodic("db.optimize", 3600, optimize))
    for install in INSTALLERS:
        install(runtime, jobs, consumers, periodic)
    return jobs, periodic


async def run_worker(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    registry: JobRegistry | None = None,
    periodic: list[Periodic] | None = None,
) -> None:
    settings, engine = runtime.settings, runtime.engine
    if registry is None:
        registry, periodic = build_registry(runtime)
    runner = JobRunner(engine, registry, poll_interval=settings.worker_poll_seconds)
    scheduler = AsyncIOScheduler(timezone="UTC")

    for task in periodic or []:

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
    log.info("worker started: %d job kinds, %d periodic tasks", len(registry.kinds), len(periodic or []))
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log.info("worker stopped")
