"""Which stored resources are SubscriptionTopics: R4 has no such type, so the R4 Backport IG stores a topic as
``Basic`` coded ``SubscriptionTopic``; the access policy decides those by the SubscriptionTopic row, and the
subscriptions package reads them as topics."""

from __future__ import annotations

TYPES_SYSTEM = "http://hl7.org/fhir/fhir-types"


def is_topic(resource: dict | None) -> bool:
    """Whether a resource is a SubscriptionTopic in the backport IG's Basic form."""
    if not resource or resource.get("resourceType") != "Basic":
        return False
    codings = (resource.get("code") or {}).get("coding") or []
    return any(c.get("system") == TYPES_SYSTEM and c.get("code") == "SubscriptionTopic" for c in codings)
