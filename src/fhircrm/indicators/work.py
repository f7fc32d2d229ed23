"""Work indicators: first response time and first contact resolution (inbox threads), complaints by reason and
closure time, coordinator productivity. These need times, so they read the (small) sets of Tasks involved."""

from __future__ import annotations

from collections import defaultdict

from fhircrm.clock import parse_fhir_datetime
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import FIRST_RESPONSE_AT_URL, INBOX_SYSTEM
from fhircrm.inbox.threads import channel_of
from fhircrm.indicators.counting import Members, fetch, med, rate
from fhircrm.indicators.slices import Slice

TASK_TYPE_SYSTEM = "http://fhircrm.org/CodeSystem/task-type"
SERVICE_LINE_URL = "http://fhircrm.org/StructureDefinition/service-line"


def _hours(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (parse_fhir_datetime(end) - parse_fhir_datetime(start)).total_seconds() / 3600


def _ext(resource: dict, url: str) -> str | None:
    return next((e.get("valueDateTime") for e in resource.get("extension", []) if e.get("url") == url), None)


async def _threads(store: FhirStore, s: Slice, segment: Members) -> list[dict]:
    threads = await fetch(
        store, "Task", [("code", f"{INBOX_SYSTEM}|conversation"), *s.period("authored-on")], segment=segment
    )
    return [t for t in threads if not s.channel or channel_of(t) == s.channel]


async def first_response_time(store: FhirStore, s: Slice, segment: Members) -> dict:
    by_channel: dict[str, list[float]] = defaultdict(list)
    for thread in await _threads(store, s, segment):
        if (hours := _hours(thread.get("authoredOn"), _ext(thread, FIRST_RESPONSE_AT_URL))) is not None:
            by_channel[channel_of(thread) or "unknown"].append(hours * 60)
    return {c: {"threads": len(v), "median_minutes": med(v)} for c, v in sorted(by_channel.items())}


async def first_contact_resolution(store: FhirStore, s: Slice, segment: Members) -> dict:
    closed = [t for t in await _threads(store, s, segment) if t.get("status") == "completed"]
    resolved_once = 0
    for thread in closed:
        inbound = await store.search("Communication", [("part-of", f"Task/{thread['id']}"), ("_count", "100")])
        patient_messages = [
            c for c in inbound.matches if (c.get("sender") or {}).get("reference", "").startswith("Patient/")
        ]
        resolved_once += len(patient_messages) <= 1
    return rate(resolved_once, len(closed))


async def complaints(store: FhirStore, s: Slice, segment: Members) -> dict:
    tasks = await fetch(
        store, "Task", [("code", f"{TASK_TYPE_SYSTEM}|complaint"), *s.period("authored-on")], segment=segment
    )
    if s.location:
        tasks = [t for t in tasks if (t.get("location") or {}).get("reference") == s.location]
    if s.service_line:
        tasks = [
            t
            for t in tasks
            if any(
                c.get("code") == s.service_line
                for e in t.get("extension", [])
                if e.get("url") == SERVICE_LINE_URL
                for c in e.get("valueCodeableConcept", {}).get("coding", [])
            )
        ]
    by_reason: dict[str, int] = defaultdict(int)
    closure: list[float] = []
    for task in tasks:
        by_reason[((task.get("reasonCode") or {}).get("text") or "unspecified").lower()] += 1
        if task.get("status") == "completed":
            end = (task.get("executionPeriod") or {}).get("end") or task.get("lastModified")
            if (hours := _hours(task.get("authoredOn"), end)) is not None:
                closure.append(hours)
    return {
        "volume": len(tasks),
        "by_reason": dict(sorted(by_reason.items())),
        "closed": len(closure),
        "median_closure_hours": med(closure),
    }


async def coordinator_productivity(store: FhirStore, s: Slice, segment: Members) -> dict:
    """Tasks completed in the period per owner, with the median hours from creation to completion."""
    done = await fetch(store, "Task", [("status", "completed"), *s.period("modified")], segment=segment)
    per_owner: dict[str, list[float]] = defaultdict(list)
    for task in done:
        owner = (task.get("owner") or {}).get("reference") or "unassigned"
        per_owner[owner].append(_hours(task.get("authoredOn"), task.get("lastModified")) or 0.0)
    return {o: {"completed": len(v), "median_hours": med(v)} for o, v in sorted(per_owner.items())}
