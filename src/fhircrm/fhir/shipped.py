"""Resources fhircrm ships as data (journeys, SubscriptionTopics), kept in place without overwriting an operator.

Each shipped resource is written with the hash of its content in ``meta.tag``. A stored resource whose content
no longer hashes to its tag was edited by someone, and fhircrm leaves it alone from then on; one deleted stays
deleted.
"""

from __future__ import annotations

import hashlib
import json

from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.store import FhirStore


def content_hash(resource: dict) -> str:
    """The hash of a resource's content, without ``meta`` (which the store rewrites on every write)."""
    body = {k: v for k, v in resource.items() if k != "meta"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def _shipped_tag(resource: dict, tag_system: str) -> str | None:
    tags = (resource.get("meta") or {}).get("tag") or []
    return next((t.get("code") for t in tags if t.get("system") == tag_system), None)


async def install(store: FhirStore, resource_type: str, shipped: list[dict], tag_system: str) -> dict[str, str]:
    """Create the shipped resources that are missing and update the ones fhircrm wrote and nobody edited since.

    Returns ``{id: created | updated | current | kept}`` (kept: edited or deleted by an operator). Running it
    again changes nothing.
    """
    outcome = {}
    for resource in shipped:
        fhir_id = resource["id"]
        ours = content_hash(resource)
        try:
            stored: dict | None = (await store.read(resource_type, fhir_id)).content or {}
        except NotFound:
            stored = None
        except Gone:
            outcome[fhir_id] = "kept"  # an operator deleted it: do not bring it back
            continue
        if stored is not None:
            now = content_hash(stored)
            if now == ours:
                outcome[fhir_id] = "current"
                continue
            if _shipped_tag(stored, tag_system) != now:
                outcome[fhir_id] = "kept"
                continue
        resource["meta"] = {"tag": [{"system": tag_system, "code": ours}]}
        await store.update(resource_type, fhir_id, resource)
        outcome[fhir_id] = "created" if stored is None else "updated"
    return outcome
