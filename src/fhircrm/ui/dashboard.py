"""The numbers behind the dashboard: rates and confirmations counted in the database, response times from the
inbox threads, the SLA mix of the open worklist."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median

from fhircrm.channels.codes import extension
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import FIRST_RESPONSE_AT_URL, INBOX_SYSTEM
from fhircrm.inbox.threads import channel_of
from fhircrm.indicators.dashboard import dashboard_figures
from fhircrm.ui import worklist
from fhircrm.ui.fetch import all_of, parse_instant

WEEKS = 12


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


def _rates(figures: dict) -> dict:
    """The database figures (``fhircrm.indicators.dashboard``) as the ``Rate`` objects the charts draw."""

    def rate(d: dict) -> Rate:
        return Rate(noshow=d["noshow"], attended=d["attended"])

    groups = {g: {label: rate(r) for label, r in rates.items()} for g, rates in figures["groups"].items()}
    return {"overall": rate(figures["overall"]), "groups": groups, "trend": figures["trend"]}


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
    """No-show rates and confirmations are counted in the database (exact at any size); response times and
    the SLA mix come from the inbox threads and the open worklist."""
    now = datetime.now(UTC)
    since = (now - timedelta(weeks=WEEKS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    figures = await dashboard_figures(store, now)
    threads = await all_of(store, "Task", [("code", f"{INBOX_SYSTEM}|conversation"), ("_lastUpdated", f"ge{since}")])
    open_tasks = await worklist.load(store, worklist.Filters(), me=None, members=None)
    sla_counts: dict[str, int] = defaultdict(int)
    for row in open_tasks:  # a worklist row may stand for several alike tasks: count the tasks
        sla_counts[row["sla"]["state"]] += row.get("count", 1)
    return {
        "now": now,
        "rates": _rates(figures),
        "confirmations": figures["confirmations"],
        "measures": figures["measures"],
        "channels": response_times(threads),
        "sla": dict(sla_counts),
        "open_tasks": sum(row.get("count", 1) for row in open_tasks),
    }
