"""The sweep: dispatch due timers, each exactly once.

One batch is one transaction: claim (SKIP LOCKED), dispatch each timer by the dispatcher of its kind (the
wiring's ``Dispatchers``), write back the outcome (``Outcome.close``: ``completed``), commit. A worker that dies
mid-batch rolls back and releases its locks; the timers are still ``active`` and the next sweep takes them. A
dispatcher that fails puts its timer ``on-hold`` with the error's type as the reason (for an operator), so one
bad timer never blocks the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.clock import current_time
from fhircrm.config import Settings, get_settings
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.stores import open_store
from fhircrm.timers.claim import claim_due_timers
from fhircrm.timers.dispatch import Dispatchers, Outcome, on_hold
from fhircrm.timers.resources import dispatch_kind

log = logging.getLogger(__name__)


async def sweep_once(
    engine: AsyncEngine,
    *,
    dispatchers: Dispatchers,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Dispatch one batch of due timers in one transaction; returns (handled, due ones seen)."""
    settings = settings or get_settings()
    moment = now or current_time(settings)
    async with engine.begin() as conn:
        store = open_store(conn, settings, policy=ServiceScope("timers"))
        due, seen = await claim_due_timers(store, now=moment, limit=settings.timers_batch_size)
        try:  # the common case in one savepoint; if any timer fails, redo the batch one savepoint per timer
            async with conn.begin_nested():
                ops = [await _dispatch(store, request, dispatchers, moment, isolate=False) for request in due]
        except Exception:
            ops = [await _dispatch(store, request, dispatchers, moment, isolate=True) for request in due]
        if ops:
            await store.apply(ops)
    return len(due), seen


async def _dispatch(
    store: FhirStore, request: dict, dispatchers: Dispatchers, now: datetime, *, isolate: bool
) -> Operation:
    """Dispatch one timer; returns the write that closes it as its outcome says (``on-hold`` when it failed)."""
    kind = dispatch_kind(request)
    outcome: Outcome
    if not isolate:
        outcome = await dispatchers.dispatch(kind, store, request, now)
    else:
        try:
            async with store.conn.begin_nested():
                outcome = await dispatchers.dispatch(kind, store, request, now)
        except Exception as exc:  # one bad timer must not hold back the batch
            log.warning("timer %s (%s) failed: %s", request["id"], kind, type(exc).__name__)
            outcome = on_hold(f"dispatch failed: {type(exc).__name__}")
    return Operation("PUT", "CommunicationRequest", request["id"], outcome.close(request))


async def sweep_until_idle(
    engine: AsyncEngine,
    *,
    dispatchers: Dispatchers,
    settings: Settings | None = None,
    now: datetime | None = None,
    max_seconds: float | None = None,
) -> int:
    """Sweep batch after batch until nothing is due (or ``max_seconds`` pass); returns the total handled. When
    every due timer is held by another worker, wait a moment: it may still roll back."""
    started, total = time.monotonic(), 0
    while True:
        handled, seen = await sweep_once(engine, settings=settings, dispatchers=dispatchers, now=now)
        total += handled
        if seen == 0 or (max_seconds is not None and time.monotonic() - started > max_seconds):
            return total
        if handled == 0:
            await asyncio.sleep(0.2)
