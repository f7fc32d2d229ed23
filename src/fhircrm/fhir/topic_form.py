"""Which stored resources are SubscriptionTopics: R4 has no such type, so the R4 Backport IG stores a topic as
``Basic`` coded ``SubscriptionTopic``; the access policy decides those by the SubscriptionTopic row (the
configuration class), every other Basic by the Basic row, and the subscriptions package reads them as topics."""

from __future__ import annotations

from collections.abc import Callable

from fhircrm.errors import Forbidden
from fhircrm.fhir.access import Branches

TYPES_SYSTEM = "http://hl7.org/fhir/fhir-types"
#: the ``code`` search value that selects the topics among Basic resources
TOPIC_CODE = f"{TYPES_SYSTEM}|SubscriptionTopic"


def is_topic(resource: dict | None) -> bool:
    """Whether a resource is a SubscriptionTopic in the backport IG's Basic form."""
    if not resource or resource.get("resourceType") != "Basic":
        return False
    codings = (resource.get("code") or {}).get("coding") or []
    return any(c.get("system") == TYPES_SYSTEM and c.get("code") == "SubscriptionTopic" for c in codings)


def basic_branches(allow: Callable[[str, str], Branches], interaction: str) -> Branches:
    """What a caller reaches of Basic for a read-like ``interaction`` (search, or the resources a search or an
    ``_include`` brings back): the topics as ``allow(interaction, "SubscriptionTopic")`` decides, the other Basic
    resources as ``allow(interaction, "Basic")`` does. Forbidden only when both are refused (the Basic refusal:
    the request was for Basic)."""
    try:
        basic: Branches = allow(interaction, "Basic")
        refused: Forbidden | None = None
    except Forbidden as error:
        basic, refused = [], error
    try:
        topics: Branches = allow(interaction, "SubscriptionTopic")
    except Forbidden:
        if refused is not None:
            raise refused from None
        # no topic for this caller, whatever the Basic row would let it reach
        return [[("code:not", TOPIC_CODE)]] if basic is None else [[*b, ("code:not", TOPIC_CODE)] for b in basic]
    if topics is None:
        return None if basic is None else [*basic, [("code", TOPIC_CODE)]]
    # a granular scope's query narrows the topics; the Basic row decides the rest
    others = [[("code:not", TOPIC_CODE)]] if basic is None else [[*b, ("code:not", TOPIC_CODE)] for b in basic]
    return others + [[*q, ("code", TOPIC_CODE)] for q in topics]
