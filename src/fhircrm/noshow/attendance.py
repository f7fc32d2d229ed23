"""Expected attendance of the coming sessions: each practitioner's (else location's) booked visits of a day, with
the sum of their no-show risks, the 90% interval of the no-show count and the extra bookings it would allow.

Risks are the RiskAssessments written at booking (assess.py); a booking not assessed yet is scored now without
writing (a dashboard only reads).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fhircrm.clock import parse_fhir_datetime
from fhircrm.config import Settings
from fhircrm.fhir.paging import every_match
from fhircrm.fhir.store import FhirStore
from fhircrm.noshow.assess import recorded, unrecorded
from fhircrm.noshow.sessions import Expected, expected


@dataclass(frozen=True, slots=True)
class Session:
    day: date
    who: str  # Practitioner/... or Location/... reference
    name: str  # the participant's display, else the reference
    outlook: Expected


def _host(appointment: dict) -> tuple[str, str] | None:
    """The practitioner (else location) running the visit, as (reference, display)."""
    actors = [p.get("actor") or {} for p in appointment.get("participant", [])]
    for kind in ("Practitioner/", "Location/"):
        for actor in actors:
            if actor.get("reference", "").startswith(kind):
                return actor["reference"], actor.get("display") or actor["reference"]
    return None


async def upcoming(
    store: FhirStore, *, settings: Settings, now: datetime, zone: ZoneInfo, days: int = 7
) -> list[Session]:
    """Sessions from today to ``days`` ahead (clinic time), by day then practitioner/location."""
    start = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone)
    end = start + timedelta(days=days)
    booked = await every_match(
        store,
        "Appointment",
        [("status", "booked"), ("date", f"ge{start.isoformat()}"), ("date", f"lt{end.isoformat()}")],
    )
    grouped: dict[tuple[date, str], list[float]] = defaultdict(list)
    names: dict[str, str] = {}
    for appointment in booked:
        host = _host(appointment)
        if host is None or not appointment.get("start"):
            continue
        assessment = await recorded(store, appointment) or await unrecorded(
            store, appointment, settings=settings, now=now
        )
        day = parse_fhir_datetime(appointment["start"]).astimezone(zone).date()
        grouped[(day, host[0])].append(float(assessment["prediction"][0]["probabilityDecimal"]))
        names[host[0]] = host[1]
    return [
        Session(day, who, names[who], expected(risks))
        for (day, who), risks in sorted(grouped.items(), key=lambda kv: (kv[0][0], names[kv[0][1]]))
    ]
