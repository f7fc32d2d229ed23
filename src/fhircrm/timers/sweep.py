"""The sweep: dispatch due timers, each exactly once.

One batch is one transaction: claim (SKIP LOCKED), dispatch each timer (queue the message, or run the internal
step its kind names), mark it ``completed``, commit. A worker that dies mid-batch rolls back and releases its
locks; the timers are still ``active`` and the next sweep takes them. A dispatcher that fails puts its timer
``on-hold`` with the error's type as the reason (for an operator), so one bad timer never blocks the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.clock import current_time
from fhircrm.config import Settings, get_settings
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.stores import open_store
from fhircrm.timers.claim import claim_due_timers
from fhircrm.timers.resources import MESSAGE, timer_kind
from fhircrm.timers.send import send_message

log = logging.getLogger(__name__)

Dispatch = Callable[[FhirStore, dict, datetime], Awaitable[None]]


class Dispatchers:
    """What each timer kind does when due: ``message`` sends; packages add internal kinds (journey steps,
    waitlist hold expiry)."""

    def __init__(self, *, message: Dispatch = send_message) -> None:
        self._by_kind: dict[str, Dispatch] = {MESSAGE: message}

    def register(self, kind: str, dispatch: Dispatch) -> None:
        self._by_kind[kind] = dispatch

    def get(self, kind: str) -> Dispatch | None:
        return self._by_kind.get(kind)


#: The process-wide dispatchers; installers register their kinds here.
DISPATCHERS = Dispatchers()


async def sweep_once(
    engine: AsyncEngine,
    *,
    settings: Settings | None = None,
    dispatchers: Dispatchers | None = None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Dispatch one batch of due timers in one transaction; returns (handled, due ones seen)."""
    settings = settings or get_settings()
    dispatchers = dispatchers or DISPATCHERS
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
    """Dispatch one timer; returns the write that closes it (``completed``, or ``on-hold`` when it failed)."""
    kind = timer_kind(request)
    dispatch = dispatchers.get(kind)
    status, reason = "completed", None
    if dispatch is None:
        status, reason = "on-hold", f"no dispatcher for timer kind {kind}"
    elif not isolate:
        await dispatch(store, request, now)
    else:
        try:
            async with store.conn.begin_nested():
                await dispatch(store, request, now)
        except Exception as exc:  # one bad timer must not hold back the batch
            log.warning("timer %s (%s) failed: %s", request["id"], kind, type(exc).__name__)
            status, reason = "on-hold", f"dispatch failed: {type(exc).__name__}"
    done = {**request, "status": status}
    if reason:
        done["statusReason"] = {"text": reason}
    return Operation("PUT", "CommunicationRequest", request["id"], done)


async def sweep_until_idle(
    engine: AsyncEngine,
    *,
    settings: Settings | None = None,
    dispatchers: Dispatchers | None = None,
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
