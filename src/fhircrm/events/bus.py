"""Emit events into the outbox and dispatch them to their consumers from a worker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.events.model import DomainEvent, EventName
from fhircrm.jobs import Job
from fhircrm.jobs.queue import enqueue_many

EVENT_JOB = "domain-event"

Consumer = Callable[[AsyncConnection, DomainEvent], Awaitable[None]]
#: Receives a claimed batch's events at once, in order (e.g. to write all their effects in one store.apply).
BatchConsumer = Callable[[AsyncConnection, list[DomainEvent]], Awaitable[None]]


def _dedupe_key(event: DomainEvent) -> str:
    return f"event:{event.key}"[:255]


async def emit(conn: AsyncConnection, event: DomainEvent) -> bool:
    """Queue ``event`` in the caller's transaction; a repeat of the same event (same key) is dropped."""
    return await emit_many(conn, [event]) == 1


async def emit_many(conn: AsyncConnection, events: list[DomainEvent]) -> int:
    """Queue a write batch's events in one statement (a 500-entry transaction is one insert, not 500)."""
    unique = list({_dedupe_key(e): e for e in events}.values())
    if not unique:
        return 0
    return await enqueue_many(
        conn, EVENT_JOB, [e.to_json() for e in unique], dedupe_keys=[_dedupe_key(e) for e in unique]
    )


class EventConsumers:
    """Who reacts to which event. All consumers of one event run in one transaction: if one fails, the event is
    retried for all of them, so their effects never half-apply."""

    def __init__(self) -> None:
        self._by_name: dict[EventName | None, list[Consumer]] = defaultdict(list)
        self._batch: list[tuple[EventName | None, BatchConsumer]] = []

    def subscribe(self, name: EventName | None, consumer: Consumer) -> None:
        """``name=None`` receives every event."""
        self._by_name[name].append(consumer)

    def subscribe_batch(self, name: EventName | None, consumer: BatchConsumer) -> None:
        """Like ``subscribe``, but ``consumer`` gets the matching events of a whole claimed batch in one call."""
        self._batch.append((name, consumer))

    def consumers(self, name: EventName) -> list[Consumer]:
        return [*self._by_name.get(name, []), *self._by_name.get(None, [])]

    async def dispatch(self, conn: AsyncConnection, job: Job) -> None:
        """The handler of the ``domain-event`` job kind."""
        await self.dispatch_batch(conn, [job])

    async def dispatch_batch(self, conn: AsyncConnection, jobs: list[Job]) -> None:
        """The batch handler of the ``domain-event`` job kind: per-event consumers event by event, then each
        batch consumer once with its events (if anything fails, the runner redoes the jobs one by one)."""
        events = [DomainEvent.from_json(job.payload) for job in jobs]
        for event in events:
            for consumer in self.consumers(event.name):
                await consumer(conn, event)
        for name, batch_consumer in self._batch:
            mine = [e for e in events if name is None or e.name == name]
            if mine:
                await batch_consumer(conn, mine)
