"""Deliver our notifications (the ``subscription-delivery`` and ``subscription-activate`` jobs).

Retries are scheduled here rather than by the job runner, so a failure's bookkeeping (attempts, counters, last
error) commits with the job: a failed attempt queues the next one after ``max(backoff, Retry-After)``; the last
failed attempt leaves the delivery ``dead`` (kept for ``$replay``) and the Subscription in ``status=error``
with the error. A success after an error sets it ``active`` again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.resilience import parse_retry_after
from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs import Job
from fhircrm.jobs.queue import backoff, utcnow
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.subscriptions import notify_request, outbox
from fhircrm.subscriptions.backport import is_backport_subscription

log = logging.getLogger(__name__)


async def _read(store: FhirStore, resource_type: str, fhir_id: str) -> dict | None:
    try:
        return (await store.read(resource_type, fhir_id)).content
    except (NotFound, Gone):
        return None


async def _focus(store: FhirStore, delivery: outbox.Delivery) -> dict | None:
    if not delivery.focus:
        return None
    rtype, fhir_id = delivery.focus.split("/", 1)
    if delivery.focus_version:
        try:
            return (await store.vread(rtype, fhir_id, str(delivery.focus_version))).content
        except (NotFound, Gone):
            pass
    return await _read(store, rtype, fhir_id)


async def set_status(store: FhirStore, sub: dict, status: str, error: str | None = None) -> None:
    updated = {k: v for k, v in sub.items() if k != "error"}
    updated["status"] = status
    if error:
        updated["error"] = error[:1000]
    await store.update("Subscription", sub["id"], updated)


async def send(runtime: Runtime, request: notify_request.NotifyRequest) -> tuple[str | None, float | None]:
    """(error, Retry-After seconds): error is None on a 2xx."""
    try:
        response = await runtime.http.request(
            request.method,
            request.url,
            content=request.body,
            headers=request.headers,
            timeout=runtime.settings.subscriptions_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} calling the endpoint", None
    if response.status_code < 300:
        return None, None
    return f"HTTP {response.status_code}", parse_retry_after(response.headers.get("Retry-After"))


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


async def deliver(conn: AsyncConnection, job: Job, *, runtime: Runtime) -> None:
    settings = runtime.settings
    delivery = await outbox.get_delivery(conn, int(job.payload["delivery"]))
    if delivery is None or delivery.status != "pending":
        return
    store = open_store(conn, settings, policy=ServiceScope("subscriptions"))
    sub = await _read(store, "Subscription", delivery.subscription_id)
    if sub is None or sub.get("status") == "off":
        await outbox.finish_delivery(conn, delivery.id, "cancelled", attempts=delivery.attempts)
        return
    counters = await outbox.counters(conn, delivery.subscription_id)
    request = notify_request.build(
        settings,
        sub,
        delivery,
        await _focus(store, delivery),
        base=_base(settings),
        events_since=counters.events_since_start,
    )
    error, retry_after = await send(runtime, request)
    attempts = delivery.attempts + 1
    await outbox.record_outcome(conn, delivery.subscription_id, error=error)
    if error is None:
        await outbox.finish_delivery(conn, delivery.id, "delivered", attempts=attempts)
        if sub.get("status") == "error":
            await set_status(store, sub, "active")
        return
    if attempts >= settings.subscriptions_max_attempts:
        await outbox.finish_delivery(conn, delivery.id, "dead", attempts=attempts, error=error)
        what = f"event {delivery.event_number}" if delivery.event_number else delivery.kind
        await set_status(store, sub, "error", f"delivery of {what} failed after {attempts} attempts: {error}")
        log.warning("subscription %s: delivery %s is dead (%s)", sub["id"], delivery.id, error)
        return
    await outbox.finish_delivery(conn, delivery.id, "pending", attempts=attempts, error=error)
    wait = max(backoff(attempts).total_seconds(), retry_after or 0.0)
    await outbox.schedule(conn, delivery.id, attempt=attempts + 1, run_at=utcnow() + timedelta(seconds=wait))


async def activate(conn: AsyncConnection, job: Job, *, runtime: Runtime) -> None:
    """``requested`` -> ``active``; a topic-based Subscription only once its handshake was accepted."""
    store = open_store(conn, runtime.settings, policy=ServiceScope("subscriptions"))
    sub = await _read(store, "Subscription", job.payload["subscription"])
    if sub is None or sub.get("status") != "requested":
        return
    if not is_backport_subscription(sub):
        await set_status(store, sub, "active")
        return
    counters = await outbox.counters(conn, sub["id"])
    handshake = outbox.Delivery(0, sub["id"], "handshake", None, None, None, "pending", 0, utcnow())
    request = notify_request.build(
        runtime.settings, sub, handshake, None, base=_base(runtime.settings), events_since=counters.events_since_start
    )
    error, _ = await send(runtime, request)
    if error is None:
        await set_status(store, sub, "active")
    else:
        await set_status(store, sub, "error", f"handshake failed: {error}")
