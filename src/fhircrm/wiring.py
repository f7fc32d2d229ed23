"""What a worker runs, gathered in one typed object: job kinds, event consumers, periodic work and timer kinds.

Each domain package has one installer, ``install(wiring, runtime)``, that adds its parts to the ``Wiring`` it is
given and touches no module global; the worker (``fhircrm.worker``) builds one Wiring from its ordered list of
installers and runs it. A test builds a Wiring from the installers it needs. (The Wiring sits beside the
packages it gathers rather than in ``jobs``: ``events`` is built on ``jobs``, and the Wiring holds both.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.events import EVENT_JOB, DomainEvent, EventConsumers
from fhircrm.events.bus import Consumer
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs.periodic import Periodic, PeriodicFunc
from fhircrm.jobs.registry import JobRegistry
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.timers.dispatch import Dispatchers


@dataclass(eq=False)
class Wiring:
    jobs: JobRegistry = field(default_factory=JobRegistry)
    consumers: EventConsumers = field(default_factory=EventConsumers)
    periodic: list[Periodic] = field(default_factory=list)
    timers: Dispatchers = field(default_factory=Dispatchers)

    def __post_init__(self) -> None:
        # the consumers run as the domain-event job: batched, since most consumers only read and plan
        self.jobs.register(
            EVENT_JOB, self.consumers.dispatch, batch_size=100, batch_handler=self.consumers.dispatch_batch
        )

    def every(self, name: str, seconds: float, func: PeriodicFunc) -> None:
        """Run ``func`` every ``seconds`` (on one worker at a time: the name is its lock)."""
        if any(task.name == name for task in self.periodic):
            raise ValueError(f"periodic task {name!r} is added twice")
        self.periodic.append(Periodic(name, seconds, func))


#: ``install(wiring, runtime)``: how a domain package adds its job kinds, event consumers, periodic work and timer
#: kinds. Each package exposes one; the worker lists them in order.
Installer = Callable[[Wiring, Runtime], None]

#: ``handle(store, subject, event)``: react to an event about a resource that still exists.
SubjectHandler = Callable[[FhirStore, dict, DomainEvent], Awaitable[None]]


def about_subject(settings: Settings, scope: str, handle: SubjectHandler) -> Consumer:
    """An event consumer for events about a resource: open the store as ``ServiceScope(scope)``, read the event's
    subject, and call ``handle`` with it. An event whose subject is gone (deleted or unknown: ``read_reference``)
    is done with; any other error, a database outage say, propagates so the event is retried."""

    async def consume(conn: AsyncConnection, event: DomainEvent) -> None:
        store = open_store(conn, settings, policy=ServiceScope(scope))
        if subject := await read_reference(store, event.subject):
            await handle(store, subject, event)

    return consume
