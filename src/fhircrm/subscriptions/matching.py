"""Does a Subscription want a change? Criteria and topic filters are answered by the store's own search.

The written resources' index rows are already in the transaction when the listeners run, so
``Type?_id=a,b&<criteria>`` finds exactly the changed resources that match: the search semantics are the
API's, with no second implementation to drift.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fhircrm.errors import FhircrmError, Unprocessable
from fhircrm.fhir.changes import Change
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.store import FhirStore
from fhircrm.subscriptions.backport import content_of, filters_of, is_backport_subscription
from fhircrm.subscriptions.topics import BY_URL

CONTENTS = ("empty", "id-only", "full-resource")


def split_criteria(criteria: str) -> tuple[str, list[tuple[str, str]]]:
    rtype, _, query = criteria.partition("?")
    return rtype.rsplit("/", 1)[-1], parse_qsl(query, keep_blank_values=True)


def _check_query(rtype: str, params: list[tuple[str, str]], what: str) -> None:
    if rtype not in RESOURCE_TYPE_SET:
        raise Unprocessable(f"{what} names an unknown resource type {rtype[:64]!r}", expression="Subscription.criteria")
    try:
        search_query.parse(rtype, params, strict=True)
    except FhircrmError as exc:
        raise Unprocessable(f"{what} is not a valid search: {exc}", expression="Subscription.criteria") from None


def validate(sub: dict) -> None:
    """Refuse (422) a Subscription we could not serve, so nothing is stored and the client learns why."""
    channel = sub.get("channel") or {}
    if channel.get("type") != "rest-hook":
        raise Unprocessable("only rest-hook channels are supported", expression="Subscription.channel.type")
    if not str(channel.get("endpoint") or "").startswith(("http://", "https://")):
        raise Unprocessable("channel.endpoint must be an http(s) URL", expression="Subscription.channel.endpoint")
    criteria = sub.get("criteria") or ""
    if is_backport_subscription(sub):
        topic = BY_URL.get(criteria)
        if topic is None:
            raise Unprocessable(f"unknown SubscriptionTopic {criteria[:200]!r}", expression="Subscription.criteria")
        if content_of(sub) not in CONTENTS:
            raise Unprocessable("unknown payload content", expression="Subscription.channel.payload")
        for text in filters_of(sub):
            rtype, params = split_criteria(text if "?" in text else f"{topic.resource_type}?{text}")
            if rtype != topic.resource_type:
                raise Unprocessable(f"filter {text[:100]!r} is not on {topic.resource_type}")
            _check_query(rtype, params, "a filter")
    else:
        rtype, params = split_criteria(criteria)
        _check_query(rtype, params, "criteria")


def _wanted_params(sub: dict) -> tuple[str, list[tuple[str, str]]] | None:
    criteria = sub.get("criteria") or ""
    if not is_backport_subscription(sub):
        return split_criteria(criteria)
    topic = BY_URL.get(criteria)
    if topic is None:
        return None
    params: list[tuple[str, str]] = []
    for text in filters_of(sub):
        params += split_criteria(text if "?" in text else f"{topic.resource_type}?{text}")[1]
    return topic.resource_type, params


async def matching_changes(store: FhirStore, sub: dict, changes: list[Change]) -> list[Change]:
    wanted = _wanted_params(sub)
    if wanted is None:
        return []
    rtype, params = wanted
    candidates = [c for c in changes if c.resource_type == rtype and c.current is not None]
    if is_backport_subscription(sub):
        topic = BY_URL[sub["criteria"]]
        candidates = [c for c in candidates if topic.fires(c.previous, c.current or {})]
    if not candidates:
        return []
    if not params:
        return candidates
    ids = ",".join(c.fhir_id for c in candidates)
    found = await store.search(rtype, [("_id", ids), *params, ("_count", str(len(candidates)))])
    hit = {m["id"] for m in found.matches}
    return [c for c in candidates if c.fhir_id in hit]
