"""The store listener that serves our own Subscriptions: decide at write time, deliver later.

Listed in ``fhircrm.stores.LISTENERS``, it runs inside every writing transaction. A Subscription written in
status ``requested`` is checked (422 and nothing stored if we could not serve it) and queued for activation
(the backport handshake). Any other change is matched against the active Subscriptions; each match counts one
event for that Subscription and adds a delivery row and its job, committed with the change or not at all.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.changes import Change
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs import enqueue
from fhircrm.subscriptions.matching import matching_changes, validate
from fhircrm.subscriptions.outbox import ACTIVATE_JOB, add_event_deliveries

#: Never notified: our own bookkeeping resources (a Subscription's status change must not feed itself).
SKIP_TYPES = frozenset({"Subscription", "AuditEvent", "Bundle", "OperationOutcome"})
LIVE_STATUSES = "active,error"


async def _subscription_written(conn: AsyncConnection, change: Change) -> None:
    sub = change.current
    if sub is None or sub.get("status") not in ("requested", "active"):
        return
    validate(sub)
    if sub["status"] == "requested":
        version = sub.get("meta", {}).get("versionId")
        payload = {"subscription": change.fhir_id}
        await enqueue(conn, ACTIVATE_JOB, payload, dedupe_key=f"sub-activate:{change.fhir_id}:{version}")


async def notify_subscribers(conn: AsyncConnection, changes: list[Change]) -> None:
    for change in changes:
        if change.resource_type == "Subscription":
            await _subscription_written(conn, change)
    relevant = [c for c in changes if c.current is not None and c.resource_type not in SKIP_TYPES]
    if not relevant:
        return
    store = FhirStore(conn, max_count=10_000)
    types = sorted({c.resource_type for c in relevant})
    active = await store.search("Subscription", [("status", LIVE_STATUSES), ("_count", "10000")])
    for sub in active.matches:
        criteria = sub.get("criteria") or ""
        if not any(criteria.startswith(t) or "/SubscriptionTopic/" in criteria for t in types):
            continue
        focuses = [
            (f"{c.resource_type}/{c.fhir_id}", int((c.current or {}).get("meta", {}).get("versionId", 0)) or None)
            for c in await matching_changes(store, sub, relevant)
        ]
        await add_event_deliveries(conn, sub["id"], focuses)
