"""Deliver our notifications (the ``subscription-delivery`` and ``subscription-activate`` jobs).

Retries are scheduled here rather than by the job runner, so a failure's bookkeeping (attempts, counters, last
error) commits with the job: a failed attempt queues the next one after ``max(backoff, Retry-After)``; the last
failed attempt leaves the delivery ``dead`` (kept for ``$replay``) and the Subscription in ``status=error``
with the error. A success after an error sets it ``active`` again.

Two refusals, each recorded as an AuditEvent and never retried:

* **The owner may not read the focus** (``owners``: the access of whoever wrote the Subscription, rebuilt now,
  roles resolved today). Nothing at all is sent for that event, whatever the payload content: an ``empty`` or
  ``id-only`` notification would still tell the receiver that something it may not read changed, and when (an
  appointment cancelled, a result final), and an id names a patient's record. The delivery ends ``refused``; the
  event keeps its number, so a backport receiver sees a hole it cannot fill, as it should.
* **The endpoint is (now) a disallowed address** (``endpoints``: resolved again before every attempt, DNS
  rebinding): the delivery is ``dead`` at once and the Subscription in ``status=error`` with a PHI-free reason;
  ``$replay`` tries again after the operator's fix.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.audit.record import AuditRecord, Outcome, now_instant, record
from fhircrm.config import Settings
from fhircrm.ehr.resilience import parse_retry_after
from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.compartment import patients_of
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs import Job
from fhircrm.jobs.queue import backoff, utcnow
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.subscriptions import endpoints, notify_request, outbox, owners
from fhircrm.subscriptions.backport import is_backport_subscription

log = logging.getLogger(__name__)


async def _focus(store: FhirStore, delivery: outbox.Delivery) -> dict | None:
    if not delivery.focus:
        return None
    rtype, fhir_id = split(delivery.focus)
    if delivery.focus_version:
        try:
            return (await store.vread(rtype, fhir_id, str(delivery.focus_version))).content
        except (NotFound, Gone):
            pass
    return await read_reference(store, delivery.focus)


async def set_status(store: FhirStore, sub: dict, status: str, error: str | None = None) -> None:
    updated = {k: v for k, v in sub.items() if k != "error"}
    updated["status"] = status
    if error:
        updated["error"] = error[:1000]
    await store.update("Subscription", sub["id"], updated)


async def send(runtime: Runtime, request: notify_request.NotifyRequest) -> tuple[str | None, float | None]:
    """(error, Retry-After seconds): error is None on a 2xx. ``endpoints.EndpointRefused`` when the URL's host is
    (now) an address notifications may not go to; the request goes to the address that was checked."""
    try:
        target = await endpoints.target(request.url, runtime.settings)
    except OSError:
        return "the endpoint's host name does not resolve", None
    headers = dict(request.headers)
    if target.host_header:
        headers["Host"] = target.host_header
    try:
        response = await runtime.http.request(
            request.method,
            target.url,
            content=request.body,
            headers=headers,
            timeout=runtime.settings.subscriptions_timeout_seconds,
            extensions={"sni_hostname": target.sni_hostname} if target.sni_hostname else None,
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} calling the endpoint", None
    if response.status_code < 300:
        return None, None
    return f"HTTP {response.status_code}", parse_retry_after(response.headers.get("Retry-After"))


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


async def _audit(
    conn: AsyncConnection,
    delivery: outbox.Delivery,
    *,
    interaction: str,
    focus: dict | None = None,
    refusal: str | None = None,
) -> None:
    """An AuditEvent for a notification sent (``message-sent``) or withheld (``refusal``: its PHI-free reason):
    the owner as agent, the Subscription and the focus as entities, with the patients they concern."""
    owner = await owners.load(conn, delivery.subscription_id)
    entities = [f"Subscription/{delivery.subscription_id}"]
    if delivery.focus:
        entities.append(delivery.focus)
    audit = AuditRecord(
        interaction=interaction,
        outcome=Outcome.SUCCESS if refusal is None else Outcome.MINOR_FAILURE,
        recorded=now_instant(),
        user=owner.who if owner else None,
        client_id=owner.client_id if owner else None,
        resource_type=split(delivery.focus)[0] if delivery.focus else "Subscription",
        entities=tuple(entities),
        patients=tuple(sorted(patients_of(focus))) if focus else (),
        status=200 if refusal is None else 403,
        description=None if refusal is None else f"subscription notification withheld: {refusal}",
    )
    await record(conn, audit)


async def _endpoint_refused(
    conn: AsyncConnection, store: FhirStore, sub: dict, delivery: outbox.Delivery, reason: str
) -> None:
    attempts = delivery.attempts + 1
    await outbox.record_outcome(conn, delivery.subscription_id, error=reason)
    if delivery.id:
        await outbox.finish_delivery(conn, delivery.id, "dead", attempts=attempts, error=reason)
    await set_status(store, sub, "error", f"delivery refused: {reason}")
    await _audit(conn, delivery, interaction="message-sent", refusal=reason)
    log.warning("subscription %s: delivery %s refused by the endpoint check", sub["id"], delivery.id)


async def deliver(conn: AsyncConnection, job: Job, *, runtime: Runtime) -> None:
    settings = runtime.settings
    delivery = await outbox.get_delivery(conn, int(job.payload["delivery"]))
    if delivery is None or delivery.status != "pending":
        return
    store = open_store(conn, settings, policy=ServiceScope("subscriptions"))
    sub = await read_reference(store, f"Subscription/{delivery.subscription_id}")
    if sub is None or sub.get("status") == "off":
        await outbox.finish_delivery(conn, delivery.id, "cancelled", attempts=delivery.attempts)
        return
    try:
        await owners.check_focus(conn, settings, delivery.subscription_id, delivery.focus)
    except owners.OwnerRefused as refused:
        await outbox.finish_delivery(conn, delivery.id, "refused", attempts=delivery.attempts, error=refused.reason)
        focus = await _focus(store, delivery)  # for the patients it concerns, in the audit record only
        await _audit(conn, delivery, interaction="read", focus=focus, refusal=refused.reason)
        return
    counters = await outbox.counters(conn, delivery.subscription_id)
    focus = await _focus(store, delivery)
    request = notify_request.build(
        settings, sub, delivery, focus, base=_base(settings), events_since=counters.events_since_start
    )
    try:
        error, retry_after = await send(runtime, request)
    except endpoints.EndpointRefused as refused:
        await _endpoint_refused(conn, store, sub, delivery, refused.reason)
        return
    attempts = delivery.attempts + 1
    await outbox.record_outcome(conn, delivery.subscription_id, error=error)
    if error is None:
        await outbox.finish_delivery(conn, delivery.id, "delivered", attempts=attempts)
        await _audit(conn, delivery, interaction="message-sent", focus=focus)
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
    sub = await read_reference(store, f"Subscription/{job.payload['subscription']}")
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
    try:
        error, _ = await send(runtime, request)
    except endpoints.EndpointRefused as refused:
        await _endpoint_refused(conn, store, sub, handshake, refused.reason)
        return
    if error is None:
        await set_status(store, sub, "active")
    else:
        await set_status(store, sub, "error", f"handshake failed: {error}")
