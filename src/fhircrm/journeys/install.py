"""Wire journeys into the worker: the engine consumes the trigger events; the sweep fires deferred steps."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.events import DomainEvent
from fhircrm.journeys.engine import JOURNEY_STEP, on_events, step_dispatcher
from fhircrm.runtime import Runtime
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings
    # a message step sends through whichever package registered the message's kind (channels, surveys)
    wiring.timers.register(JOURNEY_STEP, step_dispatcher(settings, send=wiring.timers.send_message))

    async def consume(conn: AsyncConnection, events: list[DomainEvent]) -> None:
        await on_events(conn, events, settings=settings)  # one write for the batch's timers

    wiring.consumers.subscribe_batch(None, consume)
