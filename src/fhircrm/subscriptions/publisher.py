"""The store listener that serves our own Subscriptions: decide at write time, deliver later.

Attached by ``fhircrm.stores.open_store`` (``listener_for``, which knows who writes), it runs inside every
writing transaction. A Subscription written through the API records its writer as owner (``owners``: the access
its notifications are delivered under) and has its endpoint checked (``endpoints``: no loopback, private or
metadata addresses unless allowlisted); one written in status ``requested`` is checked (422 and nothing stored if
we could not serve it) and queued for activation (the backport handshake). Any other change is matched against
the active Subscriptions; each match counts one event for that Subscription and adds a delivery row and its job,
committed with the change or not at all. A SubscriptionTopic (Basic form) written is checked (422 if we could
not serve it). Matching sees every change; what a notification may carry is decided
at delivery, under the owner's access.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings, get_settings
from fhircrm.fhir.access import AccessPolicy, ServiceScope
from fhircrm.fhir.changes import Change, ChangeListener
from fhircrm.fhir.store import FhirStore
from fhircrm.fhir.topic_form import is_topic
from fhircrm.jobs import enqueue
from fhircrm.subscriptions import endpoints, owners
from fhircrm.subscriptions.backport import is_backport_subscription
from fhircrm.subscriptions.matching import matching_changes, validate
from fhircrm.subscriptions.outbox import ACTIVATE_JOB, add_event_deliveries
from fhircrm.subscriptions.topic_definitions import parse as parse_topic

#: Never notified: our own bookkeeping resources (a Subscription's status change must not feed itself).
SKIP_TYPES = frozenset({"Subscription", "AuditEvent", "Bundle", "OperationOutcome"})
LIVE_STATUSES = "active,error"
MATCHING = ServiceScope("subscription-matching")


async def _subscription_written(
    conn: AsyncConnection, change: Change, *, settings: Settings | None, writer: owners.Owner | None
) -> None:
    sub = change.current
    if sub is None:
        await owners.forget(conn, change.fhir_id)
        return
    await owners.record(conn, change.fhir_id, writer)
    if sub.get("status") not in ("requested", "active"):
        return  # off or error: nothing is sent, and turning a Subscription off must always work
    await validate(FhirStore(conn, max_count=10_000, policy=MATCHING), sub)
    if writer is not None:  # written through the API: the caller chose this URL
        endpoint = str((sub.get("channel") or {}).get("endpoint") or "")
        await endpoints.check_written(endpoint, settings or get_settings())
    if sub["status"] == "requested":
        version = sub.get("meta", {}).get("versionId")
        payload = {"subscription": change.fhir_id}
        await enqueue(conn, ACTIVATE_JOB, payload, dedupe_key=f"sub-activate:{change.fhir_id}:{version}")


def listener_for(settings: Settings, policy: AccessPolicy | None) -> ChangeListener:
    """``notify_subscribers`` for a store opened with ``policy`` (the caller of an API request; None: fhircrm)."""
    writer = owners.owner_of(policy)

    async def notify(conn: AsyncConnection, changes: list[Change]) -> None:
        await notify_subscribers(conn, changes, settings=settings, writer=writer)

    return notify


async def notify_subscribers(
    conn: AsyncConnection,
    changes: list[Change],
    *,
    settings: Settings | None = None,
    writer: owners.Owner | None = None,
) -> None:
    """``writer``: who writes through the API (None: fhircrm's own write, which keeps recorded owners)."""
    for change in changes:
        if change.resource_type == "Subscription":
            await _subscription_written(conn, change, settings=settings, writer=writer)
        elif is_topic(change.current):
            parse_topic(change.current or {})  # 422 naming the element: a topic we could not serve is not stored
    relevant = [c for c in changes if c.current is not None and c.resource_type not in SKIP_TYPES]
    if not relevant:
        return
    # Matching sees every change (fhircrm's own scope): what a notification may carry is the owner's, at delivery.
    store = FhirStore(conn, max_count=10_000, policy=MATCHING)
    types = sorted({c.resource_type for c in relevant})
    active = await store.search("Subscription", [("status", LIVE_STATUSES), ("_count", "10000")])
    for sub in active.matches:
        criteria = sub.get("criteria") or ""
        if not (is_backport_subscription(sub) or any(criteria.startswith(t) for t in types)):
            continue
        focuses = [
            (f"{c.resource_type}/{c.fhir_id}", int((c.current or {}).get("meta", {}).get("versionId", 0)) or None)
            for c in await matching_changes(store, sub, relevant)
        ]
        await add_event_deliveries(conn, sub["id"], focuses)
