"""Wire journeys into the worker: the engine consumes the trigger events; the sweep fires deferred steps."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.events import DomainEvent, EventConsumers
from fhircrm.jobs.registry import JobRegistry
from fhircrm.journeys.engine import JOURNEY_STEP, on_events, step_dispatcher
from fhircrm.runtime import Runtime
from fhircrm.timers.sweep import DISPATCHERS


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    settings = runtime.settings
    DISPATCHERS.register(JOURNEY_STEP, step_dispatcher(settings))

    async def consume(conn: AsyncConnection, events: list[DomainEvent]) -> None:
        await on_events(conn, events, settings=settings)  # one write for the batch's timers

    consumers.subscribe_batch(None, consume)
