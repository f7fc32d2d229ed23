"""The SLA sweep: flag conversation threads whose first-response or resolution clock is running out or has run out.

A thread's alerts are ``sla-alert`` extensions (codes of CodeSystem inbox-sla, searchable as ``Task?sla-alert=``):
``<clock>-warning`` once ``channels_sla_warning_fraction`` of the window has passed, ``<clock>-breached`` when
the due time has passed. A breach also opens an ``sla-breach`` Task, part of the thread, for the supervisor role.
A clock stops when it is met (first response sent, thread closed); alerts already raised stay as the record.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime

from fhircrm.channels import communications
from fhircrm.channels.codes import coding, concept, extension
from fhircrm.channels.thread_codes import (
    CRM_ROLE_SYSTEM,
    FIRST_RESPONSE_AT_URL,
    FIRST_RESPONSE_DUE_URL,
    INBOX_SYSTEM,
    RESOLUTION_DUE_URL,
    SLA_ALERT_URL,
    SLA_SYSTEM,
)
from fhircrm.fhir.store import FhirStore

CLOCKS = (("first-response", FIRST_RESPONSE_DUE_URL), ("resolution", RESOLUTION_DUE_URL))
PAGE = 200


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def alerts_of(thread: dict) -> set[str]:
    return {
        e["valueCoding"]["code"]
        for e in thread.get("extension", [])
        if e.get("url") == SLA_ALERT_URL and "valueCoding" in e
    }


def due_alerts(thread: dict, now: datetime, warning_fraction: float) -> set[str]:
    """The alerts the thread's running clocks call for at ``now``."""
    opened = _parse(thread.get("authoredOn"))
    found: set[str] = set()
    for clock, url in CLOCKS:
        due = _parse(extension(thread, url))
        if due is None or (clock == "first-response" and extension(thread, FIRST_RESPONSE_AT_URL)):
            continue
        if now >= due:
            found.add(f"{clock}-breached")
        elif opened is not None and now >= opened + (due - opened) * warning_fraction:
            found.add(f"{clock}-warning")
    return found


def _merge(current: set[str], due: set[str]) -> set[str]:
    merged = current | due
    return {a for a in merged if not (a.endswith("-warning") and a.replace("-warning", "-breached") in merged)}


def _breach_task(thread: dict, clock: str) -> dict:
    what = "first response" if clock == "first-response" else "resolution"
    task = communications.task(
        code="sla-breach",
        display="SLA breached",
        description=f"The {what} of this conversation is overdue.",
        patient_ref=(thread.get("for") or {}).get("reference"),
        focus=f"Task/{thread['id']}",
        priority="urgent",
    )
    task["partOf"] = [communications.ref(f"Task/{thread['id']}")]
    task["performerType"] = [concept(CRM_ROLE_SYSTEM, "supervisor", "Supervisor")]
    task["input"] = [{"type": {"text": "clock"}, "valueString": clock}]
    return task


async def check_thread(store: FhirStore, thread: dict, now: datetime, warning_fraction: float) -> set[str]:
    """Write the thread's new alerts (and a Task per new breach); returns the alerts added."""
    current = alerts_of(thread)
    merged = _merge(current, due_alerts(thread, now, warning_fraction))
    if merged == current:
        return set()
    body = copy.deepcopy(thread)
    others = [e for e in body.get("extension", []) if e.get("url") != SLA_ALERT_URL]
    body["extension"] = others + [{"url": SLA_ALERT_URL, "valueCoding": coding(SLA_SYSTEM, a)} for a in sorted(merged)]
    await store.update("Task", thread["id"], body)
    added = merged - current
    for alert in sorted(added):
        if alert.endswith("-breached"):
            await store.create(_breach_task(thread, alert.removesuffix("-breached")))
    return added


async def sweep(store: FhirStore, *, now: datetime, warning_fraction: float) -> int:
    """Check every open thread; returns how many changed."""
    base = [("code", f"{INBOX_SYSTEM}|conversation"), ("status", "requested,in-progress"), ("_sort", "authored-on")]
    changed, offset = 0, 0
    while True:
        result = await store.search("Task", [*base, ("_count", str(PAGE)), ("_offset", str(offset))])
        for thread in result.matches:
            changed += bool(await check_thread(store, thread, now, warning_fraction))
        if not result.has_next:
            return changed
        offset += PAGE


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["Clock", "alerts_of", "check_thread", "due_alerts", "sweep", "utcnow"]
