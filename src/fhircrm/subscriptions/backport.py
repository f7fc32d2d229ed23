"""The Subscriptions R5 Backport IG on R4: notification bundles (read and written) and Subscription fields.

A notification is a ``history`` Bundle whose first entry is a ``Parameters`` (backport SubscriptionStatus, kebab
case names; camelCase accepted on receipt) or an R4B ``SubscriptionStatus``; further entries carry resources
when the payload is ``full-resource``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from fhircrm.errors import BadRequest

BP = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
PROFILE = f"{BP}/backport-subscription"
EXT_FILTER = f"{BP}/backport-filter-criteria"
EXT_CONTENT = f"{BP}/backport-payload-content"
EXT_HEARTBEAT = f"{BP}/backport-heartbeat-period"
NOTIFICATION_TYPES = frozenset({"handshake", "heartbeat", "event-notification", "query-status", "query-event"})


@dataclass(frozen=True, slots=True)
class Event:
    number: int | None
    focus: str | None  # a reference, maybe absolute
    timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    type: str
    subscription: str | None
    topic: str | None
    status: str | None
    events_since_start: int | None
    events: list[Event] = field(default_factory=list)
    resources: list[dict] = field(default_factory=list)
    status_id: str | None = None  # the SubscriptionStatus's id (else the Bundle's): one per notification sent


def is_backport_subscription(sub: dict) -> bool:
    criteria = sub.get("criteria") or ""
    if criteria.startswith(("http://", "https://", "urn:")) and "?" not in criteria:
        return True
    return PROFILE in ((sub.get("meta") or {}).get("profile") or [])


def _value(ext: dict) -> object:
    return next((v for k, v in ext.items() if k.startswith("value")), None)


def filters_of(sub: dict) -> list[str]:
    return [str(_value(e)) for e in (sub.get("_criteria") or {}).get("extension", []) if e.get("url") == EXT_FILTER]


def content_of(sub: dict) -> str:
    channel = sub.get("channel") or {}
    exts = (channel.get("_payload") or {}).get("extension", [])
    found = next((_value(e) for e in exts if e.get("url") == EXT_CONTENT), None)
    return str(found) if found else ("id-only" if channel.get("payload") else "empty")


def _int(value: object, what: str) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise BadRequest(f"{what} is not a number") from None


def parse_notification(body: dict) -> Notification | None:
    """The notification in a backport Bundle; None when ``body`` is not one; BadRequest when malformed."""
    if body.get("resourceType") != "Bundle" or body.get("type") != "history":
        return None
    entries = body.get("entry") or []
    first = (entries[0].get("resource") if entries and isinstance(entries[0], dict) else None) or {}
    if first.get("resourceType") == "Parameters":
        note = _from_parameters(first)
    elif first.get("resourceType") == "SubscriptionStatus":
        note = _from_status(first)
    else:
        return None
    if note.type not in NOTIFICATION_TYPES:
        raise BadRequest(f"unknown notification type {note.type!r}")
    resources = [e["resource"] for e in entries[1:] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    status_id = first.get("id") or body.get("id")
    return _with(note, resources, str(status_id)[:64] if status_id else None)


def _with(note: Notification, resources: list[dict], status_id: str | None = None) -> Notification:
    return Notification(
        note.type,
        note.subscription,
        note.topic,
        note.status,
        note.events_since_start,
        note.events,
        resources,
        status_id,
    )


def _from_parameters(params: dict) -> Notification:
    values: dict[str, object] = {}
    events: list[Event] = []
    for p in params.get("parameter", []):
        name = p.get("name")
        if name in ("notification-event", "notificationEvent"):
            parts = {x.get("name"): x for x in p.get("part", [])}
            number = parts.get("event-number") or parts.get("eventNumber") or {}
            focus = (parts.get("focus") or {}).get("valueReference") or {}
            stamp = (parts.get("timestamp") or {}).get("valueInstant")
            events.append(Event(_int(_value(number), "event-number"), focus.get("reference"), stamp))
        elif name:
            values[name] = p.get("valueReference", {}).get("reference") if "valueReference" in p else _value(p)
    since = values.get("events-since-subscription-start", values.get("eventsSinceSubscriptionStart"))
    return Notification(
        type=str(values.get("type") or ""),
        subscription=values.get("subscription"),  # type: ignore[arg-type]
        topic=values.get("topic"),  # type: ignore[arg-type]
        status=values.get("status"),  # type: ignore[arg-type]
        events_since_start=_int(since, "events-since-subscription-start"),
        events=events,
    )


def _from_status(status: dict) -> Notification:
    events = [
        Event(_int(e.get("eventNumber"), "eventNumber"), (e.get("focus") or {}).get("reference"), e.get("timestamp"))
        for e in status.get("notificationEvent", [])
    ]
    return Notification(
        type=str(status.get("type") or ""),
        subscription=(status.get("subscription") or {}).get("reference"),
        topic=status.get("topic"),
        status=status.get("status"),
        events_since_start=_int(status.get("eventsSinceSubscriptionStart"), "eventsSinceSubscriptionStart"),
        events=events,
    )


def status_parameters(
    sub: dict,
    base: str,
    kind: str,
    events_since: int,
    events: list[Event] = (),
    *,
    error: str | None = None,
    extra: list[dict] = (),
) -> dict:
    """A backport SubscriptionStatus (R4 Parameters) for our Subscription ``sub``."""
    params: list[dict] = [
        {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{sub['id']}"}},
        {"name": "topic", "valueCanonical": sub.get("criteria")},
        {"name": "status", "valueCode": sub.get("status", "active")},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(events_since)},
    ]
    for event in events:
        parts: list[dict] = [{"name": "event-number", "valueString": str(event.number)}]
        if event.timestamp:
            parts.append({"name": "timestamp", "valueInstant": event.timestamp})
        if event.focus:
            parts.append({"name": "focus", "valueReference": {"reference": f"{base}/{event.focus}"}})
        params.append({"name": "notification-event", "part": parts})
    if error:
        params.append({"name": "error", "valueCodeableConcept": {"text": error}})
    params.extend(extra)
    return {"resourceType": "Parameters", "id": str(uuid.uuid4()), "parameter": params}


def notification_bundle(
    status: dict, resources: list[dict] = (), *, base: str = "", bundle_type: str = "history"
) -> dict:
    entries = [{"fullUrl": f"urn:uuid:{status['id']}", "resource": status}]
    for r in resources:
        entries.append(
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                "response": {"status": "200"},
            }
        )
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": bundle_type, "entry": entries}
