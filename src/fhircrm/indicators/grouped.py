"""Grouped counts for the dashboard: one read-only query per dimension over the search index tables.

Counting with one ``_summary=count`` search per (group, status) costs a query per location, provider, week and
service line; here each dimension is a single ``GROUP BY`` over the Appointment index rows (status token x start
date x actor reference / service-type token / risk band), so the figures are exact however many Appointments
there are and cost a handful of index scans. Read-only: writes go through the FHIR store.

Every function takes ``restrict``: the caller's access to Appointments (``sql_search.restriction`` of the
store's branches, None for everything), so a figure never counts an Appointment its caller could not search.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from fhircrm.fhir.search.registry import sp_hash
from fhircrm.fhir.sql.tables import idx_date, idx_reference, idx_token, resource

ATTENDED = ("fulfilled", "arrived", "checked-in")
OUTCOMES = (*ATTENDED, "noshow")
ACTIVE = ("booked", "pending", "proposed", "arrived", "checked-in")

_DATE = sp_hash("Appointment", "date")
_STATUS = sp_hash("Appointment", "status")
_SERVICE = sp_hash("Appointment", "service-type")
_ACTOR = sp_hash("Appointment", "actor")
_SLOT = sp_hash("Appointment", "slot")
_BASIS = sp_hash("RiskAssessment", "basis")
_RISK = sp_hash("RiskAssessment", "risk")

#: {group key: {"noshow": n, "attended": n}}
Counts = dict[str, dict[str, int]]


def naive(moment: datetime) -> datetime:
    """Index dates are naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


#: the caller's access to Appointments as a condition on ``resource`` (None: everything)
Restrict = sa.ColumnElement[bool] | None


def appointments(statuses: tuple[str, ...], since: datetime, until: datetime, restrict: Restrict = None) -> Select:
    """(pk, start, status) of Appointments with one of ``statuses`` starting in [since, until].

    Only index rows: a deleted resource has none, so the resource table is not needed. Both tables are
    read by their (sp, value) indexes and hash-joined on res_pk when the planner has statistics (ANALYZE).
    """
    start = idx_date.alias("start")
    status = idx_token.alias("status")
    query = (
        sa.select(start.c.res_pk.label("pk"), start.c.low.label("start"), status.c.code.label("status"))
        .join(status, sa.and_(status.c.res_pk == start.c.res_pk, status.c.sp == _STATUS))
        .where(
            start.c.sp == _DATE,
            start.c.low >= naive(since),
            start.c.low <= naive(until),
            status.c.code.in_(statuses),
        )
    )
    if restrict is not None:
        query = query.where(start.c.res_pk.in_(sa.select(resource.c.id).where(restrict)))
    return query


def _outcome(status: sa.ColumnElement) -> sa.ColumnElement:
    return sa.case((status == "noshow", "noshow"), else_="attended")


async def _grouped(conn: AsyncConnection, key: sa.ColumnElement, base: sa.Subquery, *joins: tuple) -> Counts:
    query = sa.select(key.label("k"), _outcome(base.c.status).label("o"), sa.func.count().label("n")).select_from(base)
    for target, on, outer in joins:
        query = query.join(target, on, isouter=outer)
    rows = await conn.execute(query.group_by(sa.literal_column("k"), sa.literal_column("o")))
    out: Counts = defaultdict(lambda: {"noshow": 0, "attended": 0})
    for k, outcome, n in rows:
        out[str(k)][outcome] += n
    return dict(out)


def overall(weekly: Counts) -> dict[str, int]:
    """All of ``weekly``'s weeks: the same Appointments, so no second query."""
    return {o: sum(c.get(o, 0) for c in weekly.values()) for o in ("noshow", "attended")}


async def weekly(conn: AsyncConnection, now: datetime, weeks: int, restrict: Restrict = None) -> Counts:
    """Week 0 is the seven days up to ``now``, week 1 the seven before, ..."""
    since = now - timedelta(weeks=weeks)
    base = appointments(OUTCOMES, since, now, restrict).subquery()
    bounds = [(base.c.start > naive(now - timedelta(weeks=w + 1)), str(w)) for w in range(weeks)]
    return await _grouped(conn, sa.case(*bounds, else_=str(weeks - 1)), base)


async def by_service(conn: AsyncConnection, since: datetime, now: datetime, restrict: Restrict = None) -> Counts:
    """Keyed by the service type's display (else code); "unspecified" without one. One per Appointment."""
    base = appointments(OUTCOMES, since, now, restrict).subquery()
    service = (
        sa.select(
            idx_token.c.res_pk,
            sa.func.min(sa.func.coalesce(idx_token.c.display, idx_token.c.code)).label("label"),
        )
        .where(idx_token.c.sp == _SERVICE)
        .group_by(idx_token.c.res_pk)
        .subquery()
    )
    key = sa.func.coalesce(service.c.label, "unspecified")
    return await _grouped(conn, key, base, (service, service.c.res_pk == base.c.pk, True))


async def by_actor(
    conn: AsyncConnection, since: datetime, now: datetime, types: tuple[str, ...], restrict: Restrict = None
) -> Counts:
    """Keyed by "Type/id" of the Appointment's participant actors of ``types`` (Location, PractitionerRole...)."""
    base = appointments(OUTCOMES, since, now, restrict).subquery()
    ref = idx_reference.alias("actor")
    on = sa.and_(ref.c.res_pk == base.c.pk, ref.c.sp == _ACTOR, ref.c.target_type.in_(types), ref.c.url.is_(None))
    key = ref.c.target_type + "/" + ref.c.target_id
    return await _grouped(conn, key, base, (ref, on, False))


async def by_band(conn: AsyncConnection, since: datetime, now: datetime, restrict: Restrict = None) -> Counts:
    """Keyed by the qualitative risk of the Appointment's latest no-show RiskAssessment ("not assessed")."""
    base = appointments(OUTCOMES, since, now, restrict).subquery()
    latest = (
        sa.select(idx_reference.c.target_id.label("appointment"), sa.func.max(idx_reference.c.res_pk).label("pk"))
        .where(idx_reference.c.sp == _BASIS, idx_reference.c.target_type == "Appointment")
        .group_by(idx_reference.c.target_id)
        .subquery()
    )
    risk = idx_token.alias("risk")
    key = sa.func.coalesce(risk.c.code, "not assessed")
    return await _grouped(
        conn,
        key,
        base,
        (resource, resource.c.id == base.c.pk, False),
        (latest, latest.c.appointment == resource.c.fhir_id, True),
        (risk, sa.and_(risk.c.res_pk == latest.c.pk, risk.c.sp == _RISK), True),
    )


async def slots(conn: AsyncConnection, since: datetime, until: datetime, restrict: Restrict = None) -> tuple[int, int]:
    """(freed, recovered): distinct Slots of cancelled Appointments, and those also held by a live one."""

    def slot_ids(statuses: tuple[str, ...]) -> Select:
        base = appointments(statuses, since, until, restrict).subquery()
        return (
            sa.select(idx_reference.c.target_id)
            .join(base, base.c.pk == idx_reference.c.res_pk)
            .where(idx_reference.c.sp == _SLOT, idx_reference.c.target_type == "Slot")
        )

    freed = slot_ids(("cancelled",)).subquery()
    live = slot_ids((*ACTIVE, *ATTENDED))
    freed_n = (await conn.execute(sa.select(sa.func.count(sa.distinct(freed.c.target_id))))).scalar_one()
    recovered = sa.select(sa.func.count(sa.distinct(freed.c.target_id))).where(freed.c.target_id.in_(live))
    return freed_n, (await conn.execute(recovered)).scalar_one()


async def upcoming(conn: AsyncConnection, now: datetime, days: int, restrict: Restrict = None) -> list[list[dict]]:
    """The participants of each active Appointment starting in the next ``days`` (confirmation is a participant's
    status): that element only, not whole resources."""
    base = appointments(ACTIVE, now, now + timedelta(days=days), restrict).subquery()
    query = (
        sa.select(resource.c.content["participant"])
        .join(base, base.c.pk == resource.c.id)
        .where(resource.c.deleted.is_(False), resource.c.content.is_not(None))
    )
    return [participants or [] for (participants,) in await conn.execute(query)]
