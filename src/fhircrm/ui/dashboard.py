"""The numbers behind the dashboard, computed from Appointments, RiskAssessments, inbox threads and Tasks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median

from fhircrm.channels.codes import extension
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import FIRST_RESPONSE_AT_URL, INBOX_SYSTEM
from fhircrm.inbox.threads import channel_of
from fhircrm.ui import worklist
from fhircrm.ui.fetch import all_of, code, display, parse_instant, ref_id

WEEKS = 12
ATTENDED = ("fulfilled", "arrived", "checked-in")
ACTIVE = ("booked", "pending", "proposed", "arrived", "checked-in")


@dataclass
class Rate:
    noshow: int = 0
    attended: int = 0

    @property
    def total(self) -> int:
        return self.noshow + self.attended

    @property
    def percent(self) -> float:
        return 100.0 * self.noshow / self.total if self.total else 0.0


def _actor(appt: dict, kind: str) -> dict:
    return next((p.get("actor") or {} for p in appt.get("participant", []) if ref_id(p.get("actor"), kind)), {})


def _bands(risks: list[dict]) -> dict[str, str]:
    out = {}
    for risk in risks:
        band = code(((risk.get("prediction") or [{}])[0]).get("qualitativeRisk")) or "unknown"
        for basis in risk.get("basis", []):
            if ident := ref_id(basis, "Appointment"):
                out[ident] = band
    return out


def noshow_rates(appointments: list[dict], bands: dict[str, str], now: datetime) -> dict:
    groups: dict[str, dict[str, Rate]] = {k: defaultdict(Rate) for k in ("service", "location", "provider", "band")}
    weekly: dict[int, Rate] = defaultdict(Rate)
    overall = Rate()
    for appt in appointments:
        status = appt.get("status")
        start = parse_instant(appt.get("start"))
        if status not in (*ATTENDED, "noshow") or start is None or start > now:
            continue
        keys = {
            "service": display((appt.get("serviceType") or [None])[0]) or "unspecified",
            "location": _actor(appt, "Location").get("display") or "unspecified",
            "provider": (_actor(appt, "PractitionerRole") or _actor(appt, "Practitioner")).get("display") or "-",
            "band": bands.get(appt["id"], "not assessed"),
        }
        week = int((now - start).days // 7)
        for rate in (overall, weekly[week], *(groups[g][k] for g, k in keys.items())):
            if status == "noshow":
                rate.noshow += 1
            else:
                rate.attended += 1
    trend = []
    for week in range(WEEKS - 1, -1, -1):
        rate = weekly.get(week)
        label = (now - timedelta(weeks=week)).strftime("%d %b")
        trend.append((label, rate.percent if rate and rate.total else None))
    return {"overall": overall, "groups": groups, "trend": trend}


def confirmations(appointments: list[dict], now: datetime) -> dict:
    upcoming = [
        a
        for a in appointments
        if a.get("status") in ACTIVE and (s := parse_instant(a.get("start"))) and now <= s <= now + timedelta(days=14)
    ]
    confirmed = sum(1 for a in upcoming if _actor_status(a) == "accepted")
    freed = {ref_id(s) for a in appointments if a.get("status") == "cancelled" for s in a.get("slot", [])}
    refilled = {ref_id(s) for a in appointments if a.get("status") in (*ACTIVE, *ATTENDED) for s in a.get("slot", [])}
    return {"upcoming": len(upcoming), "confirmed": confirmed, "freed": len(freed), "recovered": len(freed & refilled)}


def _actor_status(appt: dict) -> str | None:
    return next((p.get("status") for p in appt.get("participant", []) if ref_id(p.get("actor"), "Patient")), None)


def response_times(threads: list[dict]) -> dict[str, dict]:
    """Median first response (minutes) and resolution (hours) per channel."""
    first: dict[str, list[float]] = defaultdict(list)
    resolved: dict[str, list[float]] = defaultdict(list)
    for thread in threads:
        channel = channel_of(thread) or "unknown"
        opened = parse_instant(thread.get("authoredOn"))
        answered = parse_instant(extension(thread, FIRST_RESPONSE_AT_URL))
        if opened and answered:
            first[channel].append((answered - opened).total_seconds() / 60)
        if opened and thread.get("status") == "completed" and (closed := parse_instant(thread.get("lastModified"))):
            resolved[channel].append((closed - opened).total_seconds() / 3600)
    channels = sorted(set(first) | set(resolved))
    return {
        c: {
            "first_minutes": median(first[c]) if first[c] else None,
            "resolution_hours": median(resolved[c]) if resolved[c] else None,
            "threads": len(first[c]),
        }
        for c in channels
    }


async def gather(store: FhirStore) -> dict:
    now = datetime.now(UTC)
    since = (now - timedelta(weeks=WEEKS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (now + timedelta(days=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    appointments = await all_of(store, "Appointment", [("date", f"ge{since}"), ("date", f"le{until}")])
    risks = await all_of(store, "RiskAssessment", [("date", f"ge{since}")])
    threads = await all_of(store, "Task", [("code", f"{INBOX_SYSTEM}|conversation"), ("_lastUpdated", f"ge{since}")])
    open_tasks = await worklist.load(store, worklist.Filters(), me=None, members=None)
    sla_counts: dict[str, int] = defaultdict(int)
    for row in open_tasks:
        sla_counts[row["sla"]["state"]] += 1
    return {
        "now": now,
        "rates": noshow_rates(appointments, _bands(risks), now),
        "confirmations": confirmations(appointments, now),
        "channels": response_times(threads),
        "sla": dict(sla_counts),
        "open_tasks": len(open_tasks),
    }
