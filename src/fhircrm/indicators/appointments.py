"""Scheduling indicators: no-show, late cancellation, confirmation, recovered slots, follow-up adherence."""

from __future__ import annotations

from datetime import timedelta

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members, count, fetch, rate
from fhircrm.indicators.slices import Slice
from fhircrm.timers.clock import parse_fhir_datetime

ATTENDED = "fulfilled,arrived,checked-in"
LIVE = "booked,arrived,checked-in,fulfilled,noshow"
LATE_HOURS = 24


async def no_show_rate(store: FhirStore, s: Slice, segment: Members) -> dict:
    params = s.appointment_params()
    noshow = await count(store, "Appointment", [*params, ("status", "noshow")], segment=segment)
    seen = await count(store, "Appointment", [*params, ("status", ATTENDED)], segment=segment)
    return rate(noshow, noshow + seen)


async def late_cancellation_rate(store: FhirStore, s: Slice, segment: Members) -> dict:
    params = s.appointment_params()
    cancelled = await fetch(store, "Appointment", [*params, ("status", "cancelled")], segment=segment)
    late = sum(
        1
        for a in cancelled
        if a.get("start")
        and parse_fhir_datetime(a["meta"]["lastUpdated"])
        > parse_fhir_datetime(a["start"]) - timedelta(hours=LATE_HOURS)
    )
    kept = await count(store, "Appointment", [*params, ("status", LIVE)], segment=segment)
    return rate(late, kept + len(cancelled))


async def confirmation_rate(store: FhirStore, s: Slice, segment: Members) -> dict:
    booked = await fetch(store, "Appointment", [*s.appointment_params(), ("status", "booked")], segment=segment)

    def confirmed(a: dict) -> bool:
        return any(
            (p.get("actor") or {}).get("reference", "").startswith("Patient/") and p.get("status") == "accepted"
            for p in a.get("participant", [])
        )

    return rate(sum(1 for a in booked if confirmed(a)), len(booked))


async def recovered_slots(store: FhirStore, s: Slice, segment: Members) -> dict:
    """Slots in the period freed by a cancellation, and how many of them were booked again."""
    params = [*s.period("start"), ("_has:Appointment:slot:status", "cancelled")]
    if s.provider:
        params.append(("schedule.actor", s.provider))
    freed = await count(store, "Slot", params)
    refilled = await count(store, "Slot", [*params, ("_has:Appointment:slot:status", LIVE)])
    return rate(refilled, freed)


async def follow_up_adherence(store: FhirStore, s: Slice, segment: Members) -> dict:
    params = [*s.appointment_params(), ("appointment-type", "FOLLOWUP")]
    kept = await count(store, "Appointment", [*params, ("status", ATTENDED)], segment=segment)
    due = await count(store, "Appointment", [*params, ("status", f"{ATTENDED},noshow,cancelled")], segment=segment)
    return rate(kept, due)
