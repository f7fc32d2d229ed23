"""The indicator registry: id -> function(store, slice, segment Group id) -> figures.

The appointment measures come from ``measures.MEASURES`` (which the dashboard also shows); the others are
functions of their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fhircrm.errors import NotFound
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators import appointments, experience, matched, referrals, work
from fhircrm.indicators.counting import Members
from fhircrm.indicators.measures import MEASURES
from fhircrm.indicators.slices import Slice
from fhircrm.segments.groups import find_segment

Indicator = Callable[[FhirStore, Slice, Members], Awaitable[dict]]

INDICATORS: dict[str, Indicator] = {
    "first-response-time": work.first_response_time,
    "first-contact-resolution": work.first_contact_resolution,
    **{m.id: appointments.indicator(m) for m in MEASURES},
    "recovered-slots": appointments.recovered_slots,
    "referral-leakage": referrals.referral_leakage,
    "referral-funnel": referrals.referral_funnel,
    "nps": experience.nps,
    "csat": experience.csat,
    "complaints": work.complaints,
    "coordinator-productivity": work.coordinator_productivity,
}


async def _segment(store: FhirStore, s: Slice) -> Members:
    """The segment's Group id (members are joined in the database); an unknown segment matches nobody."""
    if not s.segment:
        return None
    group = await find_segment(store, s.segment)
    return group["id"] if group else f"unknown-{s.segment}"[:64]


async def compute(store: FhirStore, indicator: str, s: Slice) -> dict:
    if indicator not in INDICATORS:
        raise NotFound(f"no indicator {indicator}")
    return await INDICATORS[indicator](store, s, await _segment(store, s))


async def compute_all(store: FhirStore, s: Slice) -> dict[str, dict]:
    segment = await _segment(store, s)
    with matched.shared():
        return {name: await func(store, s, segment) for name, func in INDICATORS.items()}
