"""The HTTP request of one notification to a subscriber, as R4 rest-hook or backport describe it.

R4 criteria-based: no payload -> an empty POST to the endpoint; a payload -> the resource PUT to
``{endpoint}/{type}/{id}`` (what HAPI does). Backport: a notification Bundle POSTed to the endpoint, carrying
the focus as its content asks (empty, id-only, full-resource). Every request carries the channel's headers
and, when ``subscriptions_hmac_secret`` is set, ``X-Fhircrm-Signature: sha256=<hex HMAC of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import orjson

from fhircrm.config import Settings
from fhircrm.subscriptions.backport import (
    Event,
    content_of,
    is_backport_subscription,
    notification_bundle,
    status_parameters,
)
from fhircrm.subscriptions.outbox import Delivery

FHIR_JSON = "application/fhir+json"
SIGNATURE_HEADER = "X-Fhircrm-Signature"


@dataclass(frozen=True, slots=True)
class NotifyRequest:
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


def channel_headers(sub: dict) -> dict[str, str]:
    headers = {}
    for line in (sub.get("channel") or {}).get("header", []) or []:
        name, _, value = str(line).partition(":")
        if name.strip():
            headers[name.strip()] = value.strip()
    return headers


def sign(settings: Settings, body: bytes) -> str | None:
    if settings.subscriptions_hmac_secret is None:
        return None
    secret = settings.subscriptions_hmac_secret.get_secret_value().encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def build(
    settings: Settings, sub: dict, delivery: Delivery, focus: dict | None, *, base: str, events_since: int
) -> NotifyRequest:
    endpoint = str(sub["channel"]["endpoint"]).rstrip("/")
    headers = {**channel_headers(sub), "X-Fhircrm-Delivery": str(delivery.id)}
    if is_backport_subscription(sub):
        content = content_of(sub)
        if delivery.kind == "handshake":
            status = status_parameters({**sub, "status": "requested"}, base, "handshake", events_since)
            resources: list[dict] = []
        else:
            event = Event(
                delivery.event_number,
                delivery.focus if content != "empty" else None,
                delivery.created_at.isoformat(timespec="milliseconds") + "Z",
            )
            status = status_parameters(sub, base, "event-notification", events_since, [event])
            resources = [focus] if focus is not None and content == "full-resource" else []
        method, url, body = "POST", endpoint, orjson.dumps(notification_bundle(status, resources, base=base))
        headers["Content-Type"] = FHIR_JSON
    elif (sub.get("channel") or {}).get("payload") and focus is not None:
        method, url, body = "PUT", f"{endpoint}/{focus['resourceType']}/{focus['id']}", orjson.dumps(focus)
        headers["Content-Type"] = FHIR_JSON
    else:
        method, url, body = "POST", endpoint, b""
    signature = sign(settings, body)
    if signature:
        headers[SIGNATURE_HEADER] = signature
    return NotifyRequest(method, url, body, headers)
