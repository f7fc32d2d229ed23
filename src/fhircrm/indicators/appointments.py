"""Scheduling indicators: no-show, late cancellation, confirmation, recovered slots, follow-up adherence.

Statuses are counted in one grouped query per indicator; only the elements a rule reads are fetched."""

from __future__ import annotations

from datetime import timedelta

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members, rate
from fhircrm.indicators.matched import by_status, count, elements
from fhircrm.indicators.slices import Slice
from fhircrm.timers.clock import parse_fhir_datetime

ATTENDED = "fulfilled,arrived,checked-in"
LIVE = "booked,arrived,checked-in,fulfilled,noshow"
LATE_HOURS = 24
#: every status an indicator here counts: one grouped query serves each of them
STATUSES = sorted({*ATTENDED.split(","), *LIVE.split(","), "noshow", "cancelled"})


def _sum(counts: dict[str, int], statuses: str) -> int:
    return sum(counts.get(status, 0) for status in statuses.split(","))


async def no_show_rate(store: FhirStore, s: Slice, segment: Members) -> dict:
    counts = await by_status(store, "Appointment", s.appointment_params(), STATUSES, segment=segment)
    noshow = counts.get("noshow", 0)
    return rate(noshow, noshow + _sum(counts, ATTENDED))


async def late_cancellation_rate(store: FhirStore, s: Slice, segment: Members) -> dict:
    """Reads two elements (``meta.lastUpdated``, ``start``) of the cancelled ones; the rest are counted."""
    params = s.appointment_params()
    counts = await by_status(store, "Appointment", params, STATUSES, segment=segment)
    cancelled = await elements(
        store,
        "Appointment",
        params,
        [("meta", "lastUpdated"), ("start",)],
        status=["cancelled"],
        segment=segment,
    )
    late = sum(
        1
        for updated, start in cancelled
        if start and parse_fhir_datetime(updated) > parse_fhir_datetime(start) - timedelta(hours=LATE_HOURS)
    )
    return rate(late, _sum(counts, LIVE) + len(cancelled))


def confirmed(participants: list[dict] | None) -> bool:
    """The patient participant accepted (other participants' answers do not count)."""
    return any(
        (p.get("actor") or {}).get("reference", "").startswith("Patient/") and p.get("status") == "accepted"
        for p in participants or []
    )


async def confirmation_rate(store: FhirStore, s: Slice, segment: Members) -> dict:
    booked = await elements(
        store,
        "Appointment",
        s.appointment_params(),
        [("participant",)],
        status=["booked"],
        segment=segment,
    )
    return rate(sum(1 for (participants,) in booked if confirmed(participants)), len(booked))


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
    counts = await by_status(store, "Appointment", params, STATUSES, segment=segment)
    return rate(_sum(counts, ATTENDED), _sum(counts, f"{ATTENDED},noshow,cancelled"))
