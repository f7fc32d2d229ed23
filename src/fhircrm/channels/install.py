"""Wire the channels into the worker: the delivery job kind."""

from __future__ import annotations

from fhircrm.channels.adapters import build_adapters
from fhircrm.channels.delivery import MAX_ATTEMPTS, make_handler
from fhircrm.channels.outbound import DELIVER_JOB
from fhircrm.events import EventConsumers
from fhircrm.jobs.registry import JobRegistry
from fhircrm.runtime import Runtime


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    jobs.register(DELIVER_JOB, make_handler(runtime, build_adapters(runtime)), max_attempts=MAX_ATTEMPTS)
