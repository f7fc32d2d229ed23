"""Claim due timers: find them with the store's own FHIR search, then lock their ``resource`` rows with
``FOR UPDATE SKIP LOCKED`` so that concurrent sweeps split the work instead of sharing it.

This is the one place outside ``fhircrm.fhir`` that touches the ``resource`` table, read-only and only to lock:
FHIR search has no way to say "and skip what another transaction holds". The locked row's content is re-read
at lock time, so a timer another worker completed a moment ago is seen as completed and left alone.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from fhircrm.fhir.sql.tables import resource
from fhircrm.fhir.store import FhirStore
from fhircrm.timers.clock import fhir_datetime, parse_fhir_datetime


async def claim_due_timers(store: FhirStore, *, now: datetime, limit: int) -> tuple[list[dict], int]:
    """Lock up to ``limit`` active CommunicationRequests due at ``now``, for the caller's transaction; also
    returns how many due ones the search saw (locked by others included), so callers know when none is left."""
    candidates = await store.search(
        "CommunicationRequest",
        [("status", "active"), ("occurrence", f"le{fhir_datetime(now)}"), ("_count", str(limit * 4))],
    )
    ids = [m["id"] for m in candidates.matches]
    if not ids:
        return [], 0
    rows = await store.conn.execute(
        sa.select(resource.c.content)
        .where(resource.c.res_type == "CommunicationRequest", resource.c.fhir_id.in_(ids), ~resource.c.deleted)
        .order_by(resource.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = []
    for (content,) in rows:
        if content.get("status") != "active":
            continue
        due = content.get("occurrenceDateTime")
        if due and parse_fhir_datetime(due) <= now:
            claimed.append(content)
    return claimed, len(ids)
