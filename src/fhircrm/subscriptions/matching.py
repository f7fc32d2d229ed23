"""Does a Subscription want a change? Criteria, topic queryCriteria and filters are answered by the store's search.

A topic-based Subscription names a SubscriptionTopic the store holds (``topic_library``): each of its
resourceTriggers picks the changes it fires on, then its ``queryCriteria.current`` and the Subscription's filters
narrow them.

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
from fhircrm.subscriptions.topic_library import LIBRARY

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


def _filters(sub: dict, resource_type: str) -> list[tuple[str, str]]:
    """The Subscription's filters that apply to ``resource_type`` (one without a type applies to every type)."""
    params: list[tuple[str, str]] = []
    for text in filters_of(sub):
        rtype, found = split_criteria(text if "?" in text else f"{resource_type}?{text}")
        if rtype == resource_type:
            params += found
    return params


async def validate(store: FhirStore, sub: dict) -> None:
    """Refuse (422) a Subscription we could not serve, so nothing is stored and the client learns why."""
    channel = sub.get("channel") or {}
    if channel.get("type") != "rest-hook":
        raise Unprocessable("only rest-hook channels are supported", expression="Subscription.channel.type")
    if not str(channel.get("endpoint") or "").startswith(("http://", "https://")):
        raise Unprocessable("channel.endpoint must be an http(s) URL", expression="Subscription.channel.endpoint")
    criteria = sub.get("criteria") or ""
    if is_backport_subscription(sub):
        topic = await LIBRARY.get(store, criteria)
        if topic is None:
            raise Unprocessable(f"unknown SubscriptionTopic {criteria[:200]!r}", expression="Subscription.criteria")
        if content_of(sub) not in CONTENTS:
            raise Unprocessable("unknown payload content", expression="Subscription.channel.payload")
        first = min(topic.resource_types)
        for text in filters_of(sub):
            rtype, params = split_criteria(text if "?" in text else f"{first}?{text}")
            if rtype not in topic.resource_types:
                raise Unprocessable(f"filter {text[:100]!r} is not on {', '.join(sorted(topic.resource_types))}")
            _check_query(rtype, params, "a filter")
    else:
        rtype, params = split_criteria(criteria)
        _check_query(rtype, params, "criteria")


async def _searched(
    store: FhirStore, rtype: str, params: list[tuple[str, str]], candidates: list[Change]
) -> list[Change]:
    """The candidates the store's search finds with ``params`` (the written rows are already indexed)."""
    if not candidates or not params:
        return candidates
    ids = ",".join(c.fhir_id for c in candidates)
    found = await store.search(rtype, [("_id", ids), *params, ("_count", str(len(candidates)))])
    hit = {m["id"] for m in found.matches}
    return [c for c in candidates if c.fhir_id in hit]


async def matching_changes(store: FhirStore, sub: dict, changes: list[Change]) -> list[Change]:
    live = [c for c in changes if c.current is not None]
    criteria = sub.get("criteria") or ""
    if not is_backport_subscription(sub):
        rtype, params = split_criteria(criteria)
        return await _searched(store, rtype, params, [c for c in live if c.resource_type == rtype])
    topic = await LIBRARY.get(store, criteria)
    if topic is None:
        return []
    matched: list[Change] = []
    for trigger in topic.triggers:
        candidates = [
            c
            for c in live
            if c.resource_type == trigger.resource_type
            and c not in matched
            and trigger.fires(c.previous, c.current or {})
        ]
        params = _filters(sub, trigger.resource_type)
        if trigger.current_query:
            params += parse_qsl(trigger.current_query, keep_blank_values=True)
        matched += await _searched(store, trigger.resource_type, params, candidates)
    return matched
