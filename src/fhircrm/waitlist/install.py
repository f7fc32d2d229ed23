"""Wire the waitlist into the worker: the sweep dispatches hold expiries (offers come from the recovery
journey's offer-waitlist step)."""

from __future__ import annotations

from fhircrm.events import EventConsumers
from fhircrm.jobs.registry import JobRegistry
from fhircrm.runtime import Runtime
from fhircrm.timers.sweep import DISPATCHERS
from fhircrm.waitlist.offers import HOLD_EXPIRY, hold_expiry_dispatcher


def install(runtime: Runtime, jobs: JobRegistry, consumers: EventConsumers, periodic: list) -> None:
    DISPATCHERS.register(HOLD_EXPIRY, hold_expiry_dispatcher(runtime.settings))
