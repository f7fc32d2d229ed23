"""The dashboard's figures counted in the database (``_summary=count``), instead of loading every Appointment:
no-show rate overall, per week, per service line, location and provider; confirmations; freed and recovered
slots. Same shapes as ``fhircrm.ui.dashboard`` (``Rate``-like dicts with noshow / attended)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.appointments import ATTENDED, confirmation_rate, recovered_slots
from fhircrm.indicators.counting import count
from fhircrm.indicators.slices import SERVICE_LINE_SYSTEM, Slice

WEEKS = 12
SERVICE_LINES = ("primary-care", "cardiology", "dermatology", "pediatrics", "physiotherapy")


async def _rate(store: FhirStore, params: list[tuple[str, str]]) -> dict:
    noshow = await count(store, "Appointment", [*params, ("status", "noshow")])
    attended = await count(store, "Appointment", [*params, ("status", ATTENDED)])
    total = noshow + attended
    return {"noshow": noshow, "attended": attended, "total": total, "percent": 100.0 * noshow / total if total else 0.0}


async def _actors(store: FhirStore, resource_type: str) -> list[tuple[str, str]]:
    page = await store.search(resource_type, [("_count", "500")])
    out = []
    for r in page.matches:
        label = r.get("name") or ((r.get("practitioner") or {}).get("display")) or r["id"]
        out.append((f"{resource_type}/{r['id']}", label if isinstance(label, str) else r["id"]))
    return out


async def dashboard_figures(store: FhirStore, now: datetime) -> dict:
    since = now - timedelta(weeks=WEEKS)
    past = Slice(since, now).period("date")
    groups: dict[str, dict[str, dict]] = {"service": {}, "location": {}, "provider": {}}
    for code in SERVICE_LINES:
        groups["service"][code] = await _rate(store, [*past, ("service-type", f"{SERVICE_LINE_SYSTEM}|{code}")])
    for ref, label in await _actors(store, "Location"):
        groups["location"][label] = await _rate(store, [*past, ("actor", ref)])
    for ref, label in await _actors(store, "PractitionerRole"):
        groups["provider"][label] = await _rate(store, [*past, ("actor", ref)])
    trend = []
    for week in range(WEEKS - 1, -1, -1):
        end = now - timedelta(weeks=week)
        rate = await _rate(store, Slice(end - timedelta(weeks=1), end).period("date"))
        trend.append((end.strftime("%d %b"), rate["percent"] if rate["total"] else None))
    upcoming = await confirmation_rate(store, Slice(now, now + timedelta(days=14)), None)
    slots = await recovered_slots(store, Slice(since, now + timedelta(days=15)), None)
    return {
        "overall": await _rate(store, past),
        "groups": {k: {label: r for label, r in v.items() if r["total"]} for k, v in groups.items()},
        "trend": trend,
        "confirmations": {
            "upcoming": upcoming["denominator"],
            "confirmed": upcoming["numerator"],
            "freed": slots["denominator"],
            "recovered": slots["numerator"],
        },
    }
