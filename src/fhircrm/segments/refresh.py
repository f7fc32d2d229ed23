"""Recompute memberships: all segments (scheduled) or one patient in every segment (on that patient's events)."""

from __future__ import annotations

import logging
from datetime import datetime

from fhircrm.errors import NotFound
from fhircrm.fhir.store import FhirStore
from fhircrm.segments.evaluate import evaluate
from fhircrm.segments.groups import all_segments, apply_membership, find_segment, rule_of

log = logging.getLogger(__name__)


async def refresh_group(store: FhirStore, group: dict, now: datetime, *, patient: str | None = None) -> bool:
    rule = rule_of(group)
    selected = await evaluate(store, rule, now.date(), patient=patient)
    if not apply_membership(group, selected, now, scope=patient):
        return False
    await store.update("Group", group["id"], group)
    return True


async def refresh_segment(store: FhirStore, segment: str, now: datetime) -> dict:
    group = await find_segment(store, segment)
    if group is None:
        raise NotFound(f"no segment {segment}")
    await refresh_group(store, group, now)
    return group


async def refresh_all(store: FhirStore, now: datetime) -> int:
    """Refresh every segment; returns how many changed."""
    changed = 0
    for group in await all_segments(store):
        changed += await refresh_group(store, group, now)
    log.info("segments refreshed: %d changed", changed)
    return changed


async def refresh_patient(store: FhirStore, patient: str, now: datetime) -> int:
    ident = patient.split("/", 1)[-1]
    changed = 0
    for group in await all_segments(store):
        changed += await refresh_group(store, group, now, patient=ident)
    return changed
