"""The dashboard's figures counted in the database: no-show rate overall, per week, per service line, location,
provider and risk band; confirmations of the next 14 days; freed and recovered slots.

Each dimension is one grouped query (``fhircrm.indicators.grouped``), so the counts are exact at any size and
the cost does not grow with the number of locations, providers or weeks. Rates are dicts with noshow /
attended / total / percent; group keys are display labels (Location name, provider name, service display).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators import grouped
from fhircrm.indicators.appointments import confirmed

WEEKS = 12
UPCOMING_DAYS = 14
PROVIDER_TYPES = ("PractitionerRole", "Practitioner")


def _rate(counts: dict[str, int]) -> dict:
    noshow, attended = counts.get("noshow", 0), counts.get("attended", 0)
    total = noshow + attended
    return {"noshow": noshow, "attended": attended, "total": total, "percent": 100.0 * noshow / total if total else 0.0}


def _label(resource: dict) -> str:
    name = resource.get("name")
    if isinstance(name, str):
        return name
    if isinstance(name, list) and name:  # Practitioner: a HumanName
        given = " ".join(name[0].get("given", []))
        return name[0].get("text") or f"{given} {name[0].get('family', '')}".strip() or resource["id"]
    display = (resource.get("practitioner") or {}).get("display")
    return display or resource["id"]


async def _labels(store: FhirStore, refs: list[str]) -> dict[str, str]:
    """Display labels of "Type/id" references, read in one search per type."""
    by_type: dict[str, list[str]] = {}
    for ref in refs:
        kind, _, ident = ref.partition("/")
        by_type.setdefault(kind, []).append(ident)
    out: dict[str, str] = {}
    for kind, ids in by_type.items():
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            page = await store.search(kind, [("_id", ",".join(chunk)), ("_count", str(len(chunk)))])
            out.update({f"{kind}/{r['id']}": _label(r) for r in page.matches})
    return out


async def _by_actor(store: FhirStore, since: datetime, now: datetime, types: tuple[str, ...]) -> dict[str, dict]:
    counts = await grouped.by_actor(store, since, now, types)
    labels = await _labels(store, sorted(counts))
    out: dict[str, dict] = {}
    for ref, c in counts.items():
        label = labels.get(ref, ref)
        if label in out:  # two resources with one name: one bar
            c = {k: c[k] + out[label][k] for k in ("noshow", "attended")}
        out[label] = _rate(c)
    return out


async def dashboard_figures(store: FhirStore, now: datetime) -> dict:
    """Every figure over the Appointments the caller may search (the store's read side applies the caller's
    access; Forbidden without any); the overall rate is the weeks' sum."""
    since = now - timedelta(weeks=WEEKS)
    weekly = await grouped.weekly(store, now, WEEKS)
    trend = []
    for week in range(WEEKS - 1, -1, -1):
        rate = _rate(weekly.get(str(week), {}))
        trend.append(((now - timedelta(weeks=week)).strftime("%d %b"), rate["percent"] if rate["total"] else None))
    upcoming = await grouped.upcoming(store, now, UPCOMING_DAYS)
    freed, recovered = await grouped.slots(store, since, now + timedelta(days=UPCOMING_DAYS + 1))
    return {
        "overall": _rate(grouped.overall(weekly)),
        "groups": {
            "service": {k: _rate(c) for k, c in (await grouped.by_service(store, since, now)).items()},
            "location": await _by_actor(store, since, now, ("Location",)),
            "provider": await _by_actor(store, since, now, PROVIDER_TYPES),
            "band": {k: _rate(c) for k, c in (await grouped.by_band(store, since, now)).items()},
        },
        "trend": trend,
        "confirmations": {
            "upcoming": len(upcoming),
            "confirmed": sum(1 for participants in upcoming if confirmed(participants)),
            "freed": freed,
            "recovered": recovered,
        },
    }
