"""Operations on our own Subscriptions: ``$status`` and ``$events`` (backport IG) and ``$replay`` (ours).

``$replay`` puts a Subscription's dead deliveries (or, with ``eventsSinceNumber``, every event from that number
on) back in the outbox and the Subscription back to ``active``: the operator's way out after fixing the
receiver, so no notification is ever dropped silently.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.deps import StoreDep
from fhircrm.errors import BadRequest, Gone, NotFound
from fhircrm.fhir.negotiation import base_url
from fhircrm.fhir.operations import Operations
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.fhir.store import FhirStore
from fhircrm.subscriptions import outbox
from fhircrm.subscriptions.backport import Event, content_of, notification_bundle, status_parameters
from fhircrm.subscriptions.delivery import set_status

router = APIRouter()
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition"
OPERATIONS = Operations(
    router,
    by_type={
        "Subscription": (
            ("status", f"{BACKPORT}/backport-subscription-status"),
            ("events", f"{BACKPORT}/backport-subscription-events"),
        )
    },
)


async def _subscription(store: FhirStore, fhir_id: str) -> dict:
    try:
        return (await store.read("Subscription", fhir_id)).content or {}
    except Gone:
        raise NotFound(f"Subscription/{fhir_id} was deleted") from None


async def _status(store: FhirStore, sub: dict, base: str) -> dict:
    c = await outbox.counters(store.conn, sub["id"])
    extra = [
        {"name": "fhircrm-delivered", "valueInteger": min(c.delivered, 2**31 - 1)},
        {"name": "fhircrm-failed", "valueInteger": min(c.failed, 2**31 - 1)},
    ]
    if c.last_error:
        extra.append({"name": "fhircrm-last-error", "valueString": c.last_error})
    error = sub.get("error") if sub.get("status") == "error" else None
    return status_parameters(sub, base, "query-status", c.events_since_start, error=error, extra=extra)


def _int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer")
    return int(value)


@router.get("/Subscription/{fhir_id}/$status", summary="Subscription $status (backport IG)")
async def instance_status(fhir_id: str, request: Request, store: StoreDep) -> FhirResponse:
    base = base_url(request)
    status = await _status(store, await _subscription(store, fhir_id), base)
    return FhirResponse(_searchset([status]))


@router.get("/Subscription/$status", summary="Subscription $status for several (backport IG)")
async def type_status(request: Request, store: StoreDep) -> FhirResponse:
    base = base_url(request)
    ids = [i for v in request.query_params.getlist("id") for i in v.split(",") if i]
    if ids:
        subs = [await _subscription(store, i) for i in ids]
    else:
        subs = (await store.search("Subscription", [("_count", "1000")])).matches
    return FhirResponse(_searchset([await _status(store, s, base) for s in subs]))


@router.get("/Subscription/{fhir_id}/$events", summary="Subscription $events (backport IG)")
async def instance_events(fhir_id: str, request: Request, store: StoreDep) -> FhirResponse:
    base = base_url(request)
    sub = await _subscription(store, fhir_id)
    counters = await outbox.counters(store.conn, fhir_id)
    low = _int(request, "eventsSinceNumber") or 1
    high = _int(request, "eventsUntilNumber") or counters.events_since_start
    rows = await outbox.events(store.conn, fhir_id, low, high)
    content = content_of(sub)
    events = [
        Event(
            r.event_number,
            r.focus if content != "empty" else None,
            r.created_at.isoformat(timespec="milliseconds") + "Z",
        )
        for r in rows
    ]
    status = status_parameters(sub, base, "query-event", counters.events_since_start, events)
    resources = []
    if content == "full-resource":
        for r in rows:
            rtype, rid = (r.focus or "/").split("/", 1)
            try:
                resources.append((await store.vread(rtype, rid, str(r.focus_version))).content)
            except (NotFound, Gone):
                continue
    return FhirResponse(notification_bundle(status, [r for r in resources if r], base=base))


@router.post("/Subscription/{fhir_id}/$replay", summary="Replay dead (or all later) notifications (fhircrm)")
async def instance_replay(fhir_id: str, request: Request, store: StoreDep) -> FhirResponse:
    sub = await _subscription(store, fhir_id)
    replayed = await outbox.replay(store.conn, fhir_id, since=_int(request, "eventsSinceNumber"))
    if sub.get("status") == "error":
        await set_status(store, sub, "active")
    return FhirResponse({"resourceType": "Parameters", "parameter": [{"name": "replayed", "valueInteger": replayed}]})


def _searchset(resources: list[dict]) -> dict:
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}} for r in resources]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
