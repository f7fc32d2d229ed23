"""Quick actions from the Patient 360 and the worklist: follow-up Tasks, waitlist entries, task transitions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from fhircrm.channels.codes import TASK_TYPE_SYSTEM, concept
from fhircrm.errors import NotFound, Unprocessable
from fhircrm.fhir.store import FhirStore
from fhircrm.ui.fetch import instant

SERVICE_LINE_SYSTEM = "http://fhircrm.org/CodeSystem/service-line"
OUTCOME_SYSTEM = "http://fhircrm.org/CodeSystem/task-outcome"
OUTCOMES = {
    "reached": "Patient reached, resolved",
    "rebooked": "Appointment rebooked",
    "left-message": "Left a message",
    "unreachable": "Could not reach the patient",
    "not-needed": "No longer needed",
}
PRIORITIES = ("routine", "urgent", "asap", "stat")
CLOSED = ("completed", "cancelled", "failed", "rejected", "entered-in-error")


def follow_up_task(patient_id: str, *, description: str, due_days: int, priority: str, owner: str | None) -> dict:
    if priority not in PRIORITIES:
        raise Unprocessable("priority must be routine, urgent, asap or stat")
    if not 0 <= due_days <= 365:
        raise Unprocessable("the due date must be within a year")
    now = datetime.now(UTC)
    task: dict = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": priority,
        "code": concept(TASK_TYPE_SYSTEM, "callback", "Call back"),
        "description": description.strip() or "Follow up with the patient",
        "for": {"reference": f"Patient/{patient_id}"},
        "authoredOn": instant(now),
        "lastModified": instant(now),
        "restriction": {"period": {"end": instant(now + timedelta(days=due_days))}},
    }
    if owner:
        task["owner"] = {"reference": owner}
    return task


def waitlist_entry(patient_id: str, *, service_line: str, within_days: int, note: str) -> dict:
    if not 1 <= within_days <= 180:
        raise Unprocessable("the waiting window must be 1 to 180 days")
    now = datetime.now(UTC)
    entry: dict = {
        "resourceType": "Appointment",
        "status": "waitlist",
        "created": instant(now),
        "description": note.strip() or "Waitlisted from the Patient 360",
        "requestedPeriod": [{"start": instant(now), "end": instant(now + timedelta(days=within_days))}],
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "required": "required", "status": "needs-action"}
        ],
    }
    if service_line:
        entry["serviceType"] = [concept(SERVICE_LINE_SYSTEM, service_line)]
    return entry


async def _task(store: FhirStore, task_id: str) -> dict:
    """The Task to change; NotFound (never an upsert) when there is none."""
    task = (await store.read("Task", task_id)).content
    if not task:
        raise NotFound(f"no task {task_id}")
    return copy.deepcopy(task)


async def claim(store: FhirStore, task_id: str, owner: str) -> dict:
    task = await _task(store, task_id)
    if task.get("status") in CLOSED:
        raise Unprocessable("this task is already closed")
    task["owner"] = {"reference": owner}
    if task.get("status") in ("requested", "received", "ready"):
        task["status"] = "accepted"
    task["lastModified"] = instant()
    return (await store.update("Task", task_id, task)).content or task


async def reassign(store: FhirStore, task_id: str, owner: str) -> dict:
    if not owner or "/" not in owner:
        raise Unprocessable("choose whom to assign the task to")
    task = await _task(store, task_id)
    if task.get("status") in CLOSED:
        raise Unprocessable("this task is already closed")
    task["owner"] = {"reference": owner}
    task["lastModified"] = instant()
    return (await store.update("Task", task_id, task)).content or task


async def complete(store: FhirStore, task_id: str, outcome: str, note: str = "") -> dict:
    if outcome not in OUTCOMES:
        raise Unprocessable("choose an outcome")
    task = await _task(store, task_id)
    if task.get("status") in CLOSED:
        raise Unprocessable("this task is already closed")
    task["status"] = "completed"
    task["businessStatus"] = concept(OUTCOME_SYSTEM, outcome, OUTCOMES[outcome])
    task["output"] = [{"type": {"text": "outcome"}, "valueString": OUTCOMES[outcome] + (f": {note}" if note else "")}]
    now = instant()
    task["lastModified"] = now
    task["executionPeriod"] = {**(task.get("executionPeriod") or {}), "end": now}
    return (await store.update("Task", task_id, task)).content or task
