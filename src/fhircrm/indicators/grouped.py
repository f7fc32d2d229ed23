"""Grouped counts for the dashboard: one read-only query per dimension over the search index tables.

Counting with one ``_summary=count`` search per (group, status) costs a query per location, provider, week and
service line; here each dimension is a single ``GROUP BY`` over the Appointment index rows (status token x start
date x actor reference / service-type token / risk band), so the figures are exact however many Appointments
there are and cost a handful of index scans. Read-only: writes go through the FHIR store.

The rows come from the store's read side (``FhirStore.dated``), so a figure never counts an Appointment its
caller could not search, nor a RiskAssessment band the caller could not see.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from fhircrm.fhir.selections import Dated, Join
from fhircrm.fhir.store import FhirStore

ATTENDED = ("fulfilled", "arrived", "checked-in")
OUTCOMES = (*ATTENDED, "noshow")
ACTIVE = ("booked", "pending", "proposed", "arrived", "checked-in")

#: {group key: {"noshow": n, "attended": n}}
Counts = dict[str, dict[str, int]]


def appointments(store: FhirStore, statuses: tuple[str, ...], since: datetime, until: datetime) -> Dated:
    """(pk, start, code) of the Appointments the caller may search with one of ``statuses``, starting in
    [since, until]."""
    return store.dated("Appointment", "date", "status", statuses, since, until)


def _outcome(status: sa.ColumnElement) -> sa.ColumnElement:
    return sa.case((status == "noshow", "noshow"), else_="attended")


async def _grouped(rows: Dated, key: sa.ColumnElement, joins: list[Join] | None = None) -> Counts:
    out: Counts = defaultdict(lambda: {"noshow": 0, "attended": 0})
    for k, outcome, n in await rows.count_by(key, _outcome(rows.rows.c.code), joins=joins or ()):
        out[str(k)][outcome] += n
    return dict(out)


def overall(weekly: Counts) -> dict[str, int]:
    """All of ``weekly``'s weeks: the same Appointments, so no second query."""
    return {o: sum(c.get(o, 0) for c in weekly.values()) for o in ("noshow", "attended")}


async def weekly(store: FhirStore, now: datetime, weeks: int) -> Counts:
    """Week 0 is the seven days up to ``now``, week 1 the seven before, ..."""
    rows = appointments(store, OUTCOMES, now - timedelta(weeks=weeks), now)
    start = rows.rows.c.start
    bounds = [(start > _naive(now - timedelta(weeks=w + 1)), str(w)) for w in range(weeks)]
    return await _grouped(rows, sa.case(*bounds, else_=str(weeks - 1)))


def _naive(moment: datetime) -> datetime:
    """Index dates are naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


async def by_service(store: FhirStore, since: datetime, now: datetime) -> Counts:
    """Keyed by the service type's display (else code); "unspecified" without one. One per Appointment."""
    rows = appointments(store, OUTCOMES, since, now)
    label, joins = rows.token_label("service-type")
    return await _grouped(rows, sa.func.coalesce(label, "unspecified"), joins)


async def by_actor(store: FhirStore, since: datetime, now: datetime, types: tuple[str, ...]) -> Counts:
    """Keyed by "Type/id" of the Appointment's participant actors of ``types`` (Location, PractitionerRole...)."""
    rows = appointments(store, OUTCOMES, since, now)
    key, joins = rows.reference("actor", types)
    return await _grouped(rows, key, joins)


async def by_band(store: FhirStore, since: datetime, now: datetime) -> Counts:
    """Keyed by the qualitative risk of the Appointment's latest no-show RiskAssessment ("not assessed")."""
    rows = appointments(store, OUTCOMES, since, now)
    risk, joins = rows.referrer_code("RiskAssessment", "basis", "risk")
    return await _grouped(rows, sa.func.coalesce(risk, "not assessed"), joins)


async def slots(store: FhirStore, since: datetime, until: datetime) -> tuple[int, int]:
    """(freed, recovered): distinct Slots of cancelled Appointments, and those also held by a live one."""
    cancelled = appointments(store, ("cancelled",), since, until)
    freed = cancelled.referenced("slot", "Slot").subquery()
    live = appointments(store, (*ACTIVE, *ATTENDED), since, until).referenced("slot", "Slot")
    conn = store.conn
    freed_n = (await conn.execute(sa.select(sa.func.count(sa.distinct(freed.c.target_id))))).scalar_one()
    recovered = sa.select(sa.func.count(sa.distinct(freed.c.target_id))).where(freed.c.target_id.in_(live))
    return freed_n, (await conn.execute(recovered)).scalar_one()


async def upcoming(store: FhirStore, now: datetime, days: int) -> list[list[dict]]:
    """The participants of each active Appointment starting in the next ``days`` (confirmation is a participant's
    status): that element only, not whole resources."""
    rows = appointments(store, ACTIVE, now, now + timedelta(days=days))
    return [participants or [] for participants in await rows.element("participant")]
