"""Referral indicators: leakage (referred but never seen) and the drop-off funnel request -> booked -> completed."""

from __future__ import annotations

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members, rate
from fhircrm.indicators.matched import count
from fhircrm.indicators.slices import Slice

BOOKED = "booked,arrived,checked-in,fulfilled,noshow"


async def _funnel_counts(store: FhirStore, s: Slice, segment: Members) -> tuple[int, int, int]:
    params = [*s.period("authored"), ("status:not", "entered-in-error")]
    requested = await count(store, "ServiceRequest", params, segment=segment, patient_param="subject")
    booked = await count(
        store,
        "ServiceRequest",
        [*params, ("_has:Appointment:based-on:status", BOOKED)],
        segment=segment,
        patient_param="subject",
    )
    completed = await count(
        store,
        "ServiceRequest",
        [*params, ("_has:Appointment:based-on:status", "fulfilled")],
        segment=segment,
        patient_param="subject",
    )
    return requested, booked, completed


async def referral_leakage(store: FhirStore, s: Slice, segment: Members) -> dict:
    requested, _booked, completed = await _funnel_counts(store, s, segment)
    return rate(requested - completed, requested)


async def referral_funnel(store: FhirStore, s: Slice, segment: Members) -> dict:
    requested, booked, completed = await _funnel_counts(store, s, segment)
    return {
        "requested": requested,
        "booked": booked,
        "completed": completed,
        "drop_before_booking": rate(requested - booked, requested)["value"],
        "drop_after_booking": rate(booked - completed, booked)["value"],
    }
