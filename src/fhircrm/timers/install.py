"""Wire the sweep into the worker: ``timers_sweep_lanes`` periodic tasks, each draining due timers.

Each periodic task runs under its own advisory lock, so with several workers each lane runs on one of them at a
time; lanes claim with SKIP LOCKED, so two lanes (on one worker or two) split the due timers between them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.events import EventConsumers
from fhircrm.jobs.registry import JobRegistry
from fhircrm.runtime import Runtime
from fhircrm.timers.sweep import sweep_until_idle


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    from fhircrm.worker import Periodic

    settings = runtime.settings

    async def sweep(_conn: AsyncConnection) -> None:
        # Batches commit on their own connections: the lane's transaction only holds its advisory lock.
        if _conn.dialect.name == "sqlite":  # no advisory lock there, and BEGIN IMMEDIATE holds the write lock
            await _conn.commit()  # that the batches' own transactions would otherwise wait on (self-deadlock)
        await sweep_until_idle(runtime.engine, settings=settings, max_seconds=settings.timers_sweep_seconds * 10)

    for lane in range(max(1, settings.timers_sweep_lanes)):
        periodic.append(Periodic(f"timers-sweep-{lane}", settings.timers_sweep_seconds, sweep))
