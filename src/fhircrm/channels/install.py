"""Wire the channels and the inbox into the worker: the delivery job kind, the ``message`` timer kind (a due
message goes to ``queue_message``) and the inbox SLA sweep."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.channels import thread_sla as sla
from fhircrm.channels.delivery import MAX_ATTEMPTS, make_handler
from fhircrm.channels.due_messages import message_dispatcher
from fhircrm.channels.outbound import DELIVER_JOB
from fhircrm.channels.providers import build_adapters
from fhircrm.fhir.access import ServiceScope
from fhircrm.jobs.periodic import PeriodicFunc
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.timers.resources import MESSAGE
from fhircrm.wiring import Wiring

SLA_SWEEP = "inbox-sla"
SLA_SWEEP_SECONDS = 60.0


def sla_sweep(runtime: Runtime, clock: sla.Clock = sla.utcnow) -> PeriodicFunc:
    """The periodic SLA check (``clock`` is injectable so tests can move time)."""

    async def run(conn: AsyncConnection) -> None:
        store = open_store(conn, runtime.settings, policy=ServiceScope("channels"))
        await sla.sweep(store, now=clock(), warning_fraction=runtime.settings.channels_sla_warning_fraction)

    return run


def install(wiring: Wiring, runtime: Runtime) -> None:
    wiring.jobs.register(DELIVER_JOB, make_handler(runtime, build_adapters(runtime)), max_attempts=MAX_ATTEMPTS)
    wiring.timers.register(MESSAGE, message_dispatcher(runtime.settings))
    wiring.every(SLA_SWEEP, SLA_SWEEP_SECONDS, sla_sweep(runtime))
