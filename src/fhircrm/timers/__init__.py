"""Durable timers: what is due later is a FHIR resource with a due time, dispatched exactly once by a sweep.

A message due later is a CommunicationRequest (``status=active``, ``occurrenceDateTime``) and work due later is a
Task (``restriction.period.end``): visible, searchable and revocable through the API. The sweep claims due
CommunicationRequests with ``FOR UPDATE SKIP LOCKED`` and completes them in the transaction that dispatches them,
so several workers and restarts never send twice nor miss one.

Timers are a mechanism: what a due timer does is its kind's dispatcher, registered by the package that owns the
kind (channels: ``message``, surveys: ``survey``, journeys: ``journey-step``, waitlist: hold expiry) through
the worker's wiring; a dispatcher returns an ``Outcome`` and the sweep closes the timer with it.
"""

from fhircrm.timers.dispatch import COMPLETED, Dispatch, Dispatchers, Outcome, on_hold
from fhircrm.timers.plan import TimerPlan, plan_timer, revoke_timers
from fhircrm.timers.sweep import sweep_once, sweep_until_idle

__all__ = [
    "COMPLETED",
    "Dispatch",
    "Dispatchers",
    "Outcome",
    "TimerPlan",
    "on_hold",
    "plan_timer",
    "revoke_timers",
    "sweep_once",
    "sweep_until_idle",
]
