"""Durable timers: what is due later is a FHIR resource with a due time, dispatched exactly once by a sweep.

A message due later is a CommunicationRequest (``status=active``, ``occurrenceDateTime``) and work due later is a
Task (``restriction.period.end``): visible, searchable and revocable through the API. The sweep claims due
CommunicationRequests with ``FOR UPDATE SKIP LOCKED`` and completes them in the transaction that dispatches them,
so several workers and restarts never send twice nor miss one.
"""

from fhircrm.timers.plan import TimerPlan, plan_timer, revoke_timers
from fhircrm.timers.sweep import Dispatchers, sweep_once, sweep_until_idle

__all__ = [
    "Dispatchers",
    "TimerPlan",
    "plan_timer",
    "revoke_timers",
    "sweep_once",
    "sweep_until_idle",
]
