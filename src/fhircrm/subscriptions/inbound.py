"""Check a notification from the EHR and turn it into the payload of an ``ehr-notification`` job.

Accepted: R4 rest-hook (an empty body, or the resource, POSTed to the endpoint or PUT to
``{endpoint}/{type}/{id}``; a ``DELETE`` there, as HAPI sends deletes) and backport notification Bundles.
Anything else is a 400 and nothing is stored.
"""

from __future__ import annotations

from fhircrm.errors import BadRequest
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.subscriptions.backport import parse_notification

NOTIFICATION_JOB = "ehr-notification"


def _check_resource(resource: object) -> dict:
    if not isinstance(resource, dict) or resource.get("resourceType") not in RESOURCE_TYPE_SET:
        raise BadRequest("a notification must carry FHIR resources with a known resourceType")
    if not isinstance(resource.get("id"), str) or not resource["id"]:
        raise BadRequest("a notified resource must carry its id")
    return resource


def job_payload(name: str, body: object, *, path_focus: str | None, received_at: str) -> tuple[dict, str | None]:
    """(payload, dedupe key) for a valid notification; BadRequest otherwise."""
    payload: dict = {"name": name, "received_at": received_at, "path_focus": path_focus, "body": body}
    if body is None:
        payload["format"] = "rest-hook"
        return payload, None
    if not isinstance(body, dict):
        raise BadRequest("a notification body must be a JSON object")
    note = parse_notification(body)
    if note is not None:
        if note.type == "event-notification" and not note.events and note.events_since_start is None:
            raise BadRequest("an event-notification names no events")
        if any(e.number is None for e in note.events) and note.type == "event-notification":
            raise BadRequest("every notification-event needs an event-number")
        for resource in note.resources:
            _check_resource(resource)
        payload["format"] = "backport"
        numbers = [e.number for e in note.events if e.number is not None]
        # The EHR's Subscription is in the key: a re-registered one numbers its events from 1 again; so is the
        # notification's own id where it has one: an EHR restarted (HAPI keeps its counters in memory) numbers
        # them from 1 again too, and those must reach processing, which tells a restart from a repeat.
        sub = (note.subscription or "").rsplit("/", 1)[-1][:64]
        sent = (note.status_id or f"{min(numbers)}-{max(numbers)}") if numbers else ""
        key = f"ehr-note:{name}:{sub}:{sent}" if note.type == "event-notification" and numbers else None
        return payload, key
    if body.get("resourceType") == "Bundle":
        resources = [_check_resource(e.get("resource")) for e in body.get("entry", []) if isinstance(e, dict)]
        if not resources:
            raise BadRequest("a notification Bundle must carry resources")
        payload["format"] = "rest-hook"
        return payload, None
    resource = _check_resource(body)
    if path_focus and path_focus != f"{resource['resourceType']}/{resource['id']}":
        raise BadRequest("the notified resource is not the one the URL names")
    payload["format"] = "rest-hook"
    version = (resource.get("meta") or {}).get("versionId")
    key = f"ehr-note:{name}:{resource['resourceType']}/{resource['id']}/{version}" if version else None
    return payload, key
