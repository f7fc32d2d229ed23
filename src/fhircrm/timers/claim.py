"""Claim due timers: lock up to ``limit`` due CommunicationRequests with ``FOR UPDATE SKIP LOCKED`` so that
concurrent sweeps split the work instead of sharing it.

This is the one place outside ``fhircrm.fhir`` that touches the ``resource`` table, read-only and only to lock:
FHIR search has no way to say "and skip what another transaction holds". The rows are chosen by the store's own
search compiler (``status=active&occurrence=le<now>``) in the same statement that locks them, so a claim is one
round trip however many timers are due; the locked row's content is checked again, so a timer another worker
completed a moment ago is left alone.
"""

from __future__ import annotations

from datetime import datetime

from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.sql import search as sql_search
from fhircrm.fhir.sql.tables import resource
from fhircrm.fhir.store import FhirStore
from fhircrm.timers.clock import fhir_datetime, parse_fhir_datetime


def _due_query(now: datetime) -> search_query.SearchQuery:
    return search_query.parse(
        "CommunicationRequest", [("status", "active"), ("occurrence", f"le{fhir_datetime(now)}")], strict=True
    )


async def claim_due_timers(store: FhirStore, *, now: datetime, limit: int) -> tuple[list[dict], int]:
    """Lock up to ``limit`` active CommunicationRequests due at ``now``, for the caller's transaction; also
    returns how many due ones there are at least (locked by others included), so callers know when none is left."""
    selected = sql_search.compile_query(_due_query(now))
    rows = await store.conn.execute(
        selected.with_only_columns(resource.c.content).limit(limit).with_for_update(skip_locked=True)
    )
    claimed = []
    for (content,) in rows:
        if content.get("status") != "active":
            continue
        due = content.get("occurrenceDateTime")
        if due and parse_fhir_datetime(due) <= now:
            claimed.append(content)
    if claimed:
        return claimed, len(claimed)
    # Nothing free: are some due but held by another worker (it may still roll back)?
    held = await store.search(
        "CommunicationRequest", [("status", "active"), ("occurrence", f"le{fhir_datetime(now)}"), ("_count", "1")]
    )
    return [], len(held.matches)
