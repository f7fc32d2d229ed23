"""Emit events into the outbox and dispatch them to their consumers from a worker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.events.model import DomainEvent, EventName
from fhircrm.jobs import Job, enqueue

EVENT_JOB = "domain-event"

Consumer = Callable[[AsyncConnection, DomainEvent], Awaitable[None]]


async def emit(conn: AsyncConnection, event: DomainEvent) -> bool:
    """Queue ``event`` in the caller's transaction; a repeat of the same event (same key) is dropped."""
    return await enqueue(conn, EVENT_JOB, event.to_json(), dedupe_key=f"event:{event.key}"[:255])


class EventConsumers:
    """Who reacts to which event. All consumers of one event run in one transaction: if one fails, the event is
    retried for all of them, so their effects never half-apply."""

    def __init__(self) -> None:
        self._by_name: dict[EventName | None, list[Consumer]] = defaultdict(list)

    def subscribe(self, name: EventName | None, consumer: Consumer) -> None:
        """``name=None`` receives every event."""
        self._by_name[name].append(consumer)

    def consumers(self, name: EventName) -> list[Consumer]:
        return [*self._by_name.get(name, []), *self._by_name.get(None, [])]

    async def dispatch(self, conn: AsyncConnection, job: Job) -> None:
        """The handler of the ``domain-event`` job kind."""
        event = DomainEvent.from_json(job.payload)
        for consumer in self.consumers(event.name):
            await consumer(conn, event)
