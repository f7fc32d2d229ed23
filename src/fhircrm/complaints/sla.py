"""The periodic SLA check: warning and breach states on open complaints, escalation on breach."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlencode

from fhircrm.clock import fhir_datetime, parse_fhir_datetime
from fhircrm.complaints.codes import (
    ACK_DUE_URL,
    CRM_ROLE_SYSTEM,
    ESCALATE,
    ESCALATED_URL,
    FLAG_SYSTEM,
    OPEN_STATUSES,
    SLA_SYSTEM,
    TASK_TYPE_SYSTEM,
)
from fhircrm.fhir.store import FhirStore

log = logging.getLogger(__name__)


def _ext(task: dict, url: str) -> str | None:
    return next((e.get("valueDateTime") for e in task.get("extension", []) if e.get("url") == url), None)


def acknowledged(task: dict) -> bool:
    return task.get("status") != "requested" or bool((task.get("executionPeriod") or {}).get("start"))


def _state(start: datetime, due: datetime, now: datetime, fraction: float) -> str | None:
    if now > due:
        return "breached"
    if now >= start + (due - start) * fraction:
        return "warning"
    return None


def sla_state(task: dict, now: datetime, fraction: float) -> str:
    """on-track | ack-warning | ack-breached | warning | breached (the worst that applies)."""
    start = parse_fhir_datetime(task["authoredOn"])
    states = []
    ack = _ext(task, ACK_DUE_URL)
    if not acknowledged(task) and ack and (s := _state(start, parse_fhir_datetime(ack), now, fraction)):
        states.append(f"ack-{s}")
    due = (task.get("restriction") or {}).get("period", {}).get("end")
    if due and (s := _state(start, parse_fhir_datetime(due), now, fraction)):
        states.append(s)
    for worst in ("breached", "ack-breached", "warning", "ack-warning"):
        if worst in states:
            return worst
    return "on-track"


def _set_sla(task: dict, state: str) -> None:
    codings = [c for c in (task.get("businessStatus") or {}).get("coding", []) if c.get("system") != SLA_SYSTEM]
    task["businessStatus"] = {
        **(task.get("businessStatus") or {}),
        "coding": [*codings, {"system": SLA_SYSTEM, "code": state}],
    }


async def escalate(store: FhirStore, task: dict, now: datetime) -> None:
    """Once per complaint: priority up, to the supervisors' queue, a Flag on the patient."""
    task["priority"] = ESCALATE.get(task.get("priority", "routine"), "stat")
    task["performerType"] = [{"coding": [{"system": CRM_ROLE_SYSTEM, "code": "supervisor"}]}]
    task.pop("owner", None)
    task["extension"] = [*task.get("extension", []), {"url": ESCALATED_URL, "valueDateTime": fhir_datetime(now)}]
    task["note"] = [
        *task.get("note", []),
        {"time": fhir_datetime(now), "text": "SLA breached: escalated to a supervisor"},
    ]
    if patient := (task.get("for") or {}).get("reference"):
        key = f"Task/{task['id']}"
        flag = {
            "resourceType": "Flag",
            "identifier": [{"system": FLAG_SYSTEM, "value": key}],
            "status": "active",
            "category": [{"coding": [{"system": TASK_TYPE_SYSTEM, "code": "complaint"}]}],
            "code": {"text": "Escalated complaint - handle with care"},
            "subject": {"reference": patient},
            "period": {"start": fhir_datetime(now)},
        }
        await store.create(flag, if_none_exist=urlencode({"identifier": f"{FLAG_SYSTEM}|{key}"}))


async def check_slas(store: FhirStore, now: datetime, fraction: float = 0.75) -> dict[str, int]:
    """Update the SLA state of every open complaint; escalate new breaches. Returns counts per state."""
    counts: dict[str, int] = {}
    offset = 0
    while True:
        params = [
            ("code", f"{TASK_TYPE_SYSTEM}|complaint"),
            ("status", ",".join(OPEN_STATUSES)),
            ("_count", "500"),
            ("_offset", str(offset)),
        ]
        page = await store.search("Task", params)
        for task in page.matches:
            state = sla_state(task, now, fraction)
            counts[state] = counts.get(state, 0) + 1
            current = next(
                (
                    c["code"]
                    for c in (task.get("businessStatus") or {}).get("coding", [])
                    if c.get("system") == SLA_SYSTEM
                ),
                "on-track",
            )
            breach = state in ("breached", "ack-breached") and not _ext(task, ESCALATED_URL)
            if state == current and not breach:
                continue
            _set_sla(task, state)
            if breach:
                await escalate(store, task, now)
            task["lastModified"] = fhir_datetime(now)
            await store.update("Task", task["id"], task)
        if not page.has_next or not page.matches:
            break
        offset += len(page.matches)
    log.info("complaint SLA check: %s", counts)
    return counts
