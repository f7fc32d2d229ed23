"""Tallies of the appointment cells (``facts``) over a period: from the maintained counts, or recounted.

``Maintained`` adds the whole days of the period from ``indicator_daily`` and the Appointments of the one or two
partial days at its ends from ``indicator_fact``, so any period (a slice's, "the last 12 weeks up to now")
equals a recount at a cost that does not grow with the clinic. The counts hold every Appointment, so they only
serve a caller who may search all Appointments and RiskAssessments; anyone else (a patient app, a team-scoped
coordinator) gets ``Recounted``: the facts of what their own search returns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

import sqlalchemy as sa

from fhircrm.errors import Forbidden
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.facts import STATUSES, Cell, facts
from fhircrm.indicators.tables import indicator_daily, indicator_fact


def naive(moment: datetime) -> datetime:
    """Index dates are naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def midnight(day: date) -> datetime:
    return datetime.combine(day, time())


#: (start, cells) of one Appointment
Counted = tuple[datetime, set[Cell] | list[list[str]]]


def tally(found: list[Counted], since: datetime, until: datetime, end_included: bool) -> dict[Cell, int]:
    out: dict[Cell, int] = defaultdict(int)
    for start, cells in found:
        if since <= start and (start <= until if end_included else start < until):
            for c, d, k in cells:
                out[(c, d, k)] += 1
    return out


class Tallies(Protocol):
    async def between(self, since: datetime, until: datetime, *, end_included: bool = False) -> dict[Cell, int]:
        """{cell: Appointments starting in [since, until) ([since, until] with ``end_included``)}."""
        ...


@dataclass
class Maintained:
    store: FhirStore
    _days: dict[date, list[Counted]] = field(default_factory=dict)

    async def _day(self, day: date) -> list[Counted]:
        """The cells of one day's Appointments as the listener stored them (``indicator_fact``), read once per
        ``Maintained``."""
        if day not in self._days:
            start = indicator_fact.c.start
            query = sa.select(start, indicator_fact.c.cells).where(
                start >= midnight(day), start < midnight(day + timedelta(days=1))
            )
            self._days[day] = [(row.start, row.cells) for row in await self.store.conn.execute(query)]
        return self._days[day]

    async def between(self, since: datetime, until: datetime, *, end_included: bool = False) -> dict[Cell, int]:
        since, until = naive(since), naive(until)
        first_full = since.date() if since == midnight(since.date()) else since.date() + timedelta(days=1)
        last = until.date()  # whole days are [first_full, last)
        out: dict[Cell, int] = defaultdict(int)
        if first_full < last:
            edges = [since.date()] if since.date() < first_full else []
            day = indicator_daily.c.day
            query = (
                sa.select(indicator_daily.c["class"], indicator_daily.c.dimension, indicator_daily.c.key)
                .add_columns(sa.func.sum(indicator_daily.c.n))
                .where(day >= first_full, day < last)
                .group_by(indicator_daily.c["class"], indicator_daily.c.dimension, indicator_daily.c.key)
            )
            for c, d, k, n in await self.store.conn.execute(query):
                out[(c, d, k)] += int(n)
        else:
            edges = [since.date() + timedelta(days=i) for i in range((last - since.date()).days)]
        if end_included or until > midnight(last):
            edges.append(last)
        for day in edges:
            for cell, n in tally(await self._day(day), since, until, end_included).items():
                out[cell] += n
        return {cell: n for cell, n in out.items() if n}  # a day's sum of taken-back visits is kept at 0


@dataclass
class Recounted:
    found: list[Counted]

    async def between(self, since: datetime, until: datetime, *, end_included: bool = False) -> dict[Cell, int]:
        return tally(self.found, naive(since), naive(until), end_included)


def maintained_for(store: FhirStore) -> bool:
    """The day sums count everything: only a caller who may search every Appointment and RiskAssessment (the
    band) reads them. Raises Forbidden for a caller who may not search Appointments at all."""
    if store.branches("search", "Appointment") is not None:
        return False
    try:
        return store.branches("search", "RiskAssessment") is None
    except Forbidden:
        return False


async def tallies(store: FhirStore, since: datetime, until: datetime) -> Tallies:
    """What answers ``between`` within [since, until] for the store's caller."""
    if maintained_for(store):
        return Maintained(store)
    rows = store.dated("Appointment", "date", "status", STATUSES, since, until)
    return Recounted([(fact.start, fact.cells()) for fact in (await facts(rows)).values()])
