"""Segments stored as FHIR Groups: the rule in an extension, members with their periods (history kept)."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from fhircrm.clock import fhir_datetime
from fhircrm.errors import NotFound
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.segments.rules import SegmentRule, parse_rule

SEGMENT_SYSTEM = "http://fhircrm.org/segment"
GROUP_KIND_SYSTEM = "http://fhircrm.org/CodeSystem/group-kind"
RULE_URL = "http://fhircrm.org/StructureDefinition/segment-rule"
SEGMENT_CODE = f"{GROUP_KIND_SYSTEM}|segment"


def rule_of(group: dict) -> SegmentRule:
    text = next((e.get("valueString") for e in group.get("extension", []) if e.get("url") == RULE_URL), None)
    if not text:
        raise NotFound(f"Group/{group.get('id')} is not a segment")
    return parse_rule(json.loads(text))


def active_members(group: dict) -> list[str]:
    """Ids of the patients currently in the segment."""
    return [
        split(m["entity"]["reference"])[1]
        for m in group.get("member", [])
        if not m.get("inactive") and m.get("entity", {}).get("reference", "").startswith("Patient/")
    ]


def group_body(rule: SegmentRule, existing: dict | None = None) -> dict:
    body = dict(existing or {})
    body.update(
        {
            "resourceType": "Group",
            "identifier": [{"system": SEGMENT_SYSTEM, "value": rule.id}],
            "code": {"coding": [{"system": GROUP_KIND_SYSTEM, "code": "segment", "display": "Segment"}]},
            "type": "person",
            "actual": True,
            "name": rule.title,
            "extension": [{"url": RULE_URL, "valueString": json.dumps(rule.source, sort_keys=True)}],
        }
    )
    body.setdefault("quantity", len(active_members(body)))
    if rule.description:
        body["text"] = {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{_escape(rule.description)}</div>',
        }
    return body


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def find_segment(store: FhirStore, segment: str) -> dict | None:
    """A segment by its rule id or its Group id."""
    found = await store.find("Group", urlencode({"identifier": f"{SEGMENT_SYSTEM}|{segment}"}))
    live = [f.content for f in found if f.content and not f.deleted]
    if live:
        return live[0]
    try:
        group = (await store.read("Group", segment)).content
    except NotFound:
        return None
    return group if group and any(e.get("url") == RULE_URL for e in group.get("extension", [])) else None


async def all_segments(store: FhirStore) -> list[dict]:
    page = await store.search("Group", [("code", SEGMENT_CODE), ("_count", "1000")])
    return page.matches


async def save_definition(store: FhirStore, rule: SegmentRule) -> dict:
    """Create the segment's Group, or update its rule and title keeping its members."""
    existing = await find_segment(store, rule.id)
    body = group_body(rule, existing)
    if existing:
        return (await store.update("Group", existing["id"], body)).content or body
    return (await store.create(body)).content or body


def apply_membership(group: dict, selected: set[str], now: datetime, *, scope: str | None = None) -> bool:
    """Update ``group`` in place so its active members are ``selected`` (only patient ``scope`` when given);
    leavers become inactive with an end date, newcomers get a new entry. Returns whether anything changed."""
    members: list[dict] = list(group.get("member", []))
    active = {split(m["entity"]["reference"])[1]: m for m in members if not m.get("inactive")}
    stamp = fhir_datetime(now)
    candidates = {scope} if scope else set(active) | selected
    changed = False
    for ident in sorted(candidates):
        inside = ident in selected
        if ident in active and not inside:
            entry = active[ident]
            entry["inactive"] = True
            entry["period"] = {**entry.get("period", {}), "end": stamp}
            changed = True
        elif inside and ident not in active:
            members.append({"entity": {"reference": f"Patient/{ident}"}, "period": {"start": stamp}})
            changed = True
    if changed:
        group["member"] = members
        group["quantity"] = len(active_members(group))
    return changed
