"""Open a complaint from any channel (front desk, phone, web form, inbox thread, survey comment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fhircrm.clock import fhir_datetime
from fhircrm.complaints.codes import (
    ACK_DUE_URL,
    BUSINESS_STATUS_SYSTEM,
    CHANNEL_URL,
    PRIORITY,
    SERVICE_LINE_SYSTEM,
    SERVICE_LINE_URL,
    SEVERITY_URL,
    SLA_HOURS,
    TASK_TYPE_SYSTEM,
)
from fhircrm.errors import Unprocessable
from fhircrm.fhir.store import FhirStore


@dataclass(frozen=True, slots=True)
class Complaint:
    patient: str  # "Patient/x"
    category: str  # the reason, e.g. "waiting time", "staff attitude", "billing"
    severity: str  # critical | high | medium | low
    description: str
    channel: str = "front-desk"
    location: str | None = None  # "Location/x"
    service_line: str | None = None  # a code of http://fhircrm.org/CodeSystem/service-line
    owner: str | None = None  # "PractitionerRole/x"
    source: str | None = None  # what it came from: "Communication/x", "QuestionnaireResponse/y", "Task/z"


def complaint_task(c: Complaint, now: datetime) -> dict:
    if c.severity not in PRIORITY:
        raise Unprocessable(f"severity is one of {', '.join(PRIORITY)}")
    if not c.patient.startswith("Patient/") or not c.category.strip():
        raise Unprocessable("a complaint needs a patient (Patient/x) and a category")
    priority = PRIORITY[c.severity]
    ack, resolve = SLA_HOURS[priority]
    task: dict = {
        "resourceType": "Task",
        "status": "requested",
        "businessStatus": {"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": "new"}]},
        "intent": "order",
        "priority": priority,
        "code": {"coding": [{"system": TASK_TYPE_SYSTEM, "code": "complaint", "display": "Complaint"}]},
        "for": {"reference": c.patient},
        "requester": {"reference": c.patient},
        "reasonCode": {"text": c.category.strip().lower()},
        "authoredOn": fhir_datetime(now),
        "lastModified": fhir_datetime(now),
        "restriction": {"period": {"end": fhir_datetime(now + timedelta(hours=resolve))}},
        "extension": [
            {"url": SEVERITY_URL, "valueCode": c.severity},
            {"url": CHANNEL_URL, "valueCode": c.channel},
            {"url": ACK_DUE_URL, "valueDateTime": fhir_datetime(now + timedelta(hours=ack))},
        ],
    }
    if c.service_line:
        task["extension"].append(
            {
                "url": SERVICE_LINE_URL,
                "valueCodeableConcept": {"coding": [{"system": SERVICE_LINE_SYSTEM, "code": c.service_line}]},
            }
        )
    if c.description.strip():
        task["description"] = c.description.strip()
    if c.location:
        task["location"] = {"reference": c.location}
    if c.owner:
        task["owner"] = {"reference": c.owner}
    if c.source:
        task["focus"] = {"reference": c.source}
    return task


async def open_complaint(store: FhirStore, complaint: Complaint, now: datetime) -> dict:
    body = complaint_task(complaint, now)
    return (await store.create(body)).content or body
