"""Wire the sweep into the worker: ``timers_sweep_lanes`` periodic tasks, each draining due timers with the
wiring's dispatchers (the timer kinds every package registers, before or after this one).

Each periodic task runs under its own advisory lock, so with several workers each lane runs on one of them at a
time; lanes claim with SKIP LOCKED, so two lanes (on one worker or two) split the due timers between them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.runtime import Runtime
from fhircrm.timers.sweep import sweep_until_idle
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings

    async def sweep(_conn: AsyncConnection) -> None:
        # Batches commit on their own connections: the lane's transaction only holds its advisory lock.
        if _conn.dialect.name == "sqlite":  # no advisory lock there, and BEGIN IMMEDIATE holds the write lock
            await _conn.commit()  # that the batches' own transactions would otherwise wait on (self-deadlock)
        await sweep_until_idle(
            runtime.engine, dispatchers=wiring.timers, settings=settings, max_seconds=settings.timers_sweep_seconds * 10
        )

    for lane in range(max(1, settings.timers_sweep_lanes)):
        wiring.every(f"timers-sweep-{lane}", settings.timers_sweep_seconds, sweep)
