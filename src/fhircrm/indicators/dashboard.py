"""The dashboard's figures: no-show rate overall, per week, per service line, location, provider and risk band;
every appointment measure (``measures``) over the same 12 weeks, or over the next 14 days for a measure of visits
still to come (confirmations: booked visits confirmed, the same figure as the confirmation-rate indicator over
[now, now + 14 days)); freed and recovered slots.

Counted from the appointment cells (``facts``): the maintained day sums for a caller who reaches every visit,
a recount of their own visits for anyone else (``periods``). Weeks are whole UTC days, the current one up to
now. Rates are dicts with noshow / attended / total / percent; group keys are display labels (Location name,
provider name, service display).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators import grouped
from fhircrm.indicators.facts import Cell
from fhircrm.indicators.measures import ATTENDED, MEASURES
from fhircrm.indicators.periods import midnight, naive, tallies

WEEKS = 12
UPCOMING_DAYS = 14
#: the measure behind the "upcoming visits confirmed" tile and the confirmations chart
CONFIRMATION = "confirmation-rate"
PROVIDER_TYPES = ("PractitionerRole", "Practitioner")
#: the dashboard's name of a dimension's empty key
UNSET = {"service": "unspecified", "band": "not assessed"}


def _rate(counts: dict[str, int]) -> dict:
    noshow, attended = counts.get("noshow", 0), counts.get("attended", 0)
    total = noshow + attended
    return {"noshow": noshow, "attended": attended, "total": total, "percent": 100.0 * noshow / total if total else 0.0}


def _outcomes(cells: dict[Cell, int], dimension: str) -> dict[str, dict[str, int]]:
    """{key: {"noshow": n, "attended": n}} of the keys of ``dimension`` with a no-show or an attended visit."""
    out: dict[str, dict[str, int]] = {}
    for (c, d, k), n in cells.items():
        if d != dimension or not n or (c != "noshow" and c not in ATTENDED):
            continue
        counts = out.setdefault(k, {"noshow": 0, "attended": 0})
        counts["noshow" if c == "noshow" else "attended"] += n
    return out


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
        kind, ident = split(ref)
        by_type.setdefault(kind, []).append(ident)
    out: dict[str, str] = {}
    for kind, ids in by_type.items():
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            page = await store.search(kind, [("_id", ",".join(chunk)), ("_count", str(len(chunk)))])
            out.update({f"{kind}/{r['id']}": _label(r) for r in page.matches})
    return out


async def _by_actor(store: FhirStore, cells: dict[Cell, int], types: tuple[str, ...]) -> dict[str, dict]:
    counts = {ref: c for ref, c in _outcomes(cells, "actor").items() if split(ref)[0] in types}
    labels = await _labels(store, sorted(counts))
    out: dict[str, dict] = {}
    for ref, c in counts.items():
        label = labels.get(ref, ref)
        if label in out:  # two resources with one name: one bar
            c = {k: c[k] + out[label][k] for k in ("noshow", "attended")}
        out[label] = _rate(c)
    return out


def _by_key(cells: dict[Cell, int], dimension: str) -> dict[str, dict]:
    return {k or UNSET[dimension]: _rate(c) for k, c in _outcomes(cells, dimension).items()}


async def dashboard_figures(store: FhirStore, now: datetime) -> dict:
    """Every figure over the Appointments the caller may search (Forbidden without any); the overall rate is the
    weeks' sum."""
    today = naive(now).date()
    since = midnight(today - timedelta(days=7 * WEEKS - 1))
    until = now + timedelta(days=UPCOMING_DAYS)
    counted = await tallies(store, since, until)
    trend = []
    for week in range(WEEKS - 1, -1, -1):
        first = midnight(today - timedelta(days=7 * week + 6))
        cells = await counted.between(
            first, naive(now) if week == 0 else first + timedelta(days=7), end_included=not week
        )
        rate = _rate(_outcomes(cells, "all").get("", {}))
        trend.append(((now - timedelta(weeks=week)).strftime("%d %b"), rate["percent"] if rate["total"] else None))
    window = await counted.between(since, now, end_included=True)
    upcoming = await counted.between(now, until)  # [now, until): the indicators' slice of the same period
    measures = {
        m.id: {
            "title": m.title,
            "period": f"next {UPCOMING_DAYS} days" if m.ahead else f"last {WEEKS} weeks",
            **m.figures(upcoming if m.ahead else window),
        }
        for m in MEASURES
    }
    confirmed = measures[CONFIRMATION]
    freed, recovered = await grouped.slots(store, since, until + timedelta(days=1))
    return {
        "overall": _rate(_outcomes(window, "all").get("", {})),
        "groups": {
            "service": _by_key(window, "service"),
            "location": await _by_actor(store, window, ("Location",)),
            "provider": await _by_actor(store, window, PROVIDER_TYPES),
            "band": _by_key(window, "band"),
        },
        "measures": measures,
        "trend": trend,
        "confirmations": {  # the confirmation measure's own figures: the tile and the table cannot disagree
            "upcoming": confirmed["denominator"],
            "confirmed": confirmed["numerator"],
            "freed": freed,
            "recovered": recovered,
        },
    }
