"""The indicator registry: id -> function(store, slice, segment members) -> figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fhircrm.errors import NotFound
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators import appointments, experience, referrals, work
from fhircrm.indicators.slices import Slice
from fhircrm.segments.lookup import members

Indicator = Callable[[FhirStore, Slice, list[str] | None], Awaitable[dict]]

INDICATORS: dict[str, Indicator] = {
    "first-response-time": work.first_response_time,
    "first-contact-resolution": work.first_contact_resolution,
    "no-show-rate": appointments.no_show_rate,
    "late-cancellation-rate": appointments.late_cancellation_rate,
    "confirmation-rate": appointments.confirmation_rate,
    "recovered-slots": appointments.recovered_slots,
    "referral-leakage": referrals.referral_leakage,
    "referral-funnel": referrals.referral_funnel,
    "follow-up-adherence": appointments.follow_up_adherence,
    "nps": experience.nps,
    "csat": experience.csat,
    "complaints": work.complaints,
    "coordinator-productivity": work.coordinator_productivity,
}


async def _patients(store: FhirStore, s: Slice) -> list[str] | None:
    return sorted(await members(store, s.segment)) if s.segment else None


async def compute(store: FhirStore, indicator: str, s: Slice) -> dict:
    if indicator not in INDICATORS:
        raise NotFound(f"no indicator {indicator}")
    return await INDICATORS[indicator](store, s, await _patients(store, s))


async def compute_all(store: FhirStore, s: Slice) -> dict[str, dict]:
    patients = await _patients(store, s)
    return {name: await func(store, s, patients) for name, func in INDICATORS.items()}
