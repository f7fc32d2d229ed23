"""Who may take a freed slot, best first.

A waitlist entry is an Appointment with ``status=waitlist`` for the patient, optionally naming a service type,
a practitioner or location (participants) and time windows (``requestedPeriod``). It fits a slot when each of
those it names matches the slot. Rank: Appointment.priority (lower first, unset last), then the oldest entry.
"""

from __future__ import annotations

from datetime import datetime

from fhircrm.clock import parse_fhir_datetime
from fhircrm.fhir.store import FhirStore


def _codes(appointment: dict) -> set[tuple[str | None, str | None]]:
    return {(c.get("system"), c.get("code")) for cc in appointment.get("serviceType", []) for c in cc.get("coding", [])}


def _actors(appointment: dict, prefix: str) -> set[str]:
    refs = ((p.get("actor") or {}).get("reference", "") for p in appointment.get("participant", []))
    return {r for r in refs if r.startswith(prefix)}


def fits(entry: dict, slot: dict) -> bool:
    wanted = _codes(entry)
    if wanted and not wanted & _codes(slot):
        return False
    for prefix in ("Practitioner/", "Location/", "PractitionerRole/"):
        named = _actors(entry, prefix)
        if named and not named & _actors(slot, prefix):
            return False
    windows = entry.get("requestedPeriod", [])
    if windows and slot.get("start"):
        start = parse_fhir_datetime(slot["start"])
        inside = (
            (not w.get("start") or parse_fhir_datetime(w["start"]) <= start)
            and (not w.get("end") or start <= parse_fhir_datetime(w["end"]))
            for w in windows
        )
        if not any(inside):
            return False
    return True


def _rank(entry: dict) -> tuple[int, str]:
    priority = entry.get("priority") or 0
    return (priority if priority > 0 else 10_000, entry.get("created") or entry.get("meta", {}).get("lastUpdated", ""))


async def ranked_candidates(
    store: FhirStore, slot: dict, *, exclude: set[str] = frozenset(), now: datetime | None = None
) -> list[dict]:
    """Waitlist entries that fit ``slot``, best first (``exclude``: entry ids already offered)."""
    entries = await store.match_all("Appointment", "status=waitlist")
    fitting = [c.content for c in entries if c.content and c.fhir_id not in exclude and fits(c.content, slot)]
    return sorted(fitting, key=_rank)
