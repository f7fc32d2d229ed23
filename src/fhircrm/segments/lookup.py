"""Membership lookups for journeys, the UI and indicators: who is in a segment, which segments a patient is in."""

from __future__ import annotations

from fhircrm.fhir.store import FhirStore
from fhircrm.segments.groups import SEGMENT_CODE, active_members, find_segment


async def members(store: FhirStore, segment: str) -> list[str]:
    """Patient ids currently in ``segment`` (rule id or Group id); [] for an unknown segment."""
    group = await find_segment(store, segment)
    return active_members(group) if group else []


async def segments_of(store: FhirStore, patient: str) -> list[str]:
    """Rule ids of the segments ``patient`` ("Patient/x" or "x") is currently in."""
    ident = patient.split("/", 1)[-1]
    page = await store.search("Group", [("code", SEGMENT_CODE), ("member", f"Patient/{ident}"), ("_count", "1000")])
    out = []
    for group in page.matches:
        if ident in active_members(group):
            out.append(next(i["value"] for i in group["identifier"]))
    return sorted(out)


async def is_member(store: FhirStore, segment: str, patient: str) -> bool:
    return segment in await segments_of(store, patient)
