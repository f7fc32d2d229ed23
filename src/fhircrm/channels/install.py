"""Wire the channels and the inbox into the worker: the delivery job kind and the inbox SLA sweep."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.channels.delivery import MAX_ATTEMPTS, make_handler
from fhircrm.channels.outbound import DELIVER_JOB
from fhircrm.channels.providers import build_adapters
from fhircrm.events import EventConsumers
from fhircrm.fhir.access import ServiceScope
from fhircrm.inbox import sla
from fhircrm.jobs.registry import JobRegistry
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store

SLA_SWEEP = "inbox-sla"
SLA_SWEEP_SECONDS = 60.0


def sla_sweep(runtime: Runtime, clock: sla.Clock = sla.utcnow):
    """The periodic SLA check (``clock`` is injectable so tests can move time)."""

    async def run(conn: AsyncConnection) -> None:
        store = open_store(conn, runtime.settings, policy=ServiceScope("channels"))
        await sla.sweep(store, now=clock(), warning_fraction=runtime.settings.channels_sla_warning_fraction)

    return run


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    from fhircrm.worker import Periodic

    jobs.register(DELIVER_JOB, make_handler(runtime, build_adapters(runtime)), max_attempts=MAX_ATTEMPTS)
    periodic.append(Periodic(SLA_SWEEP, SLA_SWEEP_SECONDS, sla_sweep(runtime)))
