"""Scheduling indicators: the appointment measures (``measures``: no-show, late cancellation, confirmation,
follow-up adherence) over a slice, and recovered slots.

A measure is read from the maintained day sums (``periods.Maintained``) when the caller reaches every visit and
the slice names at most one dimension (a location, a provider or a service line; follow-up adherence has its
own); otherwise (a segment, two dimensions, a scoped caller) the cells of the slice's own search are recounted.
Within ``matched.shared()`` both are worked out once per slice.
"""

from __future__ import annotations

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members, rate
from fhircrm.indicators.facts import ACTOR_TYPES, STATUSES, Cell, facts, tally
from fhircrm.indicators.matched import count, matched, memo
from fhircrm.indicators.measures import LIVE, Measure
from fhircrm.indicators.periods import Maintained, maintained_for
from fhircrm.indicators.slices import Slice


def _where(s: Slice, measure: Measure) -> tuple[str, str] | bool | None:
    """The one (dimension, key) the slice and measure restrict to (None: none), or False when the day sums
    cannot answer (two dimensions, an actor of another type)."""
    wanted = [("actor", s.location), ("actor", s.provider), ("service-line", s.service_line)]
    where = [(d, k) for d, k in wanted if k]
    if measure.within != ("all", ""):
        where.append(measure.within)
    if len(where) > 1 or any(d == "actor" and k.partition("/")[0] not in ACTOR_TYPES for d, k in where):
        return False
    return where[0] if where else None


async def _cells(
    store: FhirStore, s: Slice, segment: Members, measure: Measure
) -> tuple[dict[Cell, int], tuple | None]:
    cache = memo()
    cache = {} if cache is None else cache
    where = _where(s, measure)
    if segment is None and where is not False and maintained_for(store):
        key = ("maintained", id(store), s.start, s.end)
        if key not in cache:
            cache[key] = await Maintained(store).between(s.start, s.end)
        return cache[key], where
    key = ("recounted", id(store), s, segment)
    if key not in cache:
        found = matched(store, "Appointment", s.appointment_params(), segment=segment)
        pks = list((await store.conn.execute(found.pks)).scalars())  # the search runs once, not once per cell
        rows = await store.dated("Appointment", "date", "status", STATUSES, s.start, s.end).held(pks)
        cache[key] = tally(await facts(rows))
    return cache[key], None


def indicator(measure: Measure):  # type: ignore[no-untyped-def]
    """The indicator function of ``measure``: (store, slice, segment) -> rate."""

    async def figures(store: FhirStore, s: Slice, segment: Members) -> dict:
        cells, where = await _cells(store, s, segment, measure)
        return measure.figures(cells, where)

    figures.__name__ = measure.id.replace("-", "_")
    return figures


async def recovered_slots(store: FhirStore, s: Slice, segment: Members) -> dict:
    """Slots in the period freed by a cancellation, and how many of them were booked again."""
    params = [*s.period("start"), ("_has:Appointment:slot:status", "cancelled")]
    if s.provider:
        params.append(("schedule.actor", s.provider))
    freed = await count(store, "Slot", params)
    refilled = await count(store, "Slot", [*params, ("_has:Appointment:slot:status", ",".join(LIVE))])
    return rate(refilled, freed)
