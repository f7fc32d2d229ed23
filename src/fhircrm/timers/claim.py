"""Claim due timers: lock up to ``limit`` due CommunicationRequests with ``FOR UPDATE SKIP LOCKED`` so that
concurrent sweeps split the work instead of sharing it.

The rows are chosen by the store's read side (``FhirStore.select`` of ``status=active&occurrence=le<now>``, within
the store's scope: the sweep's ``ServiceScope``) and locked in the same statement (``Selection.lock``), so a claim
is one round trip however many timers are due; the locked row's content is checked again, so a timer another
worker completed a moment ago is left alone.
"""

from __future__ import annotations

from datetime import datetime

from fhircrm.clock import fhir_datetime, parse_fhir_datetime
from fhircrm.fhir.store import FhirStore


def _due(now: datetime) -> list[tuple[str, str]]:
    return [("status", "active"), ("occurrence", f"le{fhir_datetime(now)}")]


async def claim_due_timers(store: FhirStore, *, now: datetime, limit: int) -> tuple[list[dict], int]:
    """Lock up to ``limit`` active CommunicationRequests due at ``now``, for the caller's transaction; also
    returns how many due ones there are at least (locked by others included), so callers know when none is left."""
    rows = await store.select("CommunicationRequest", _due(now), strict=True).lock(limit)
    claimed = []
    for content in rows:
        if content.get("status") != "active":
            continue
        due = content.get("occurrenceDateTime")
        if due and parse_fhir_datetime(due) <= now:
            claimed.append(content)
    if claimed:
        return claimed, len(claimed)
    # Nothing free: are some due but held by another worker (it may still roll back)?
    held = await store.search("CommunicationRequest", [*_due(now), ("_count", "1")])
    return [], len(held.matches)
