"""How a timer looks in FHIR: the CommunicationRequest a plan becomes, and the reading of one back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from fhircrm.clock import fhir_datetime

TIMER_IDENTIFIER_SYSTEM = "http://fhircrm.org/timer"
TIMER_KIND_SYSTEM = "http://fhircrm.org/CodeSystem/timer-kind"
CONTACT_PURPOSE_SYSTEM = "http://fhircrm.org/CodeSystem/contact-purpose"
CHANNEL_SYSTEM = "http://fhircrm.org/CodeSystem/channel"
TEMPLATE_EXTENSION = "http://fhircrm.org/StructureDefinition/message-template"
TIMER_DATA_EXTENSION = "http://fhircrm.org/StructureDefinition/timer-data"

MESSAGE = "message"  # send a templated message to the patient
SURVEY = "survey"  # a message that invites to a survey: its data names the Questionnaire (a send-survey step)


@dataclass(kw_only=True)
class TimerPlan:
    """Something to do at ``due``. ``key`` is deterministic (journey:step:subject:version), so planning the
    same thing twice finds the first plan instead of adding a second."""

    key: str
    due: datetime
    patient: str | None
    based_on: list[str] = field(default_factory=list)
    kind: str = MESSAGE
    template: str | None = None
    purpose: str | None = None
    channel: str | None = None
    data: dict = field(default_factory=dict)  # small facts for the dispatcher (ids, times); never free text

    def to_resource(self, *, authored: datetime) -> dict:
        category = [{"coding": [{"system": TIMER_KIND_SYSTEM, "code": self.kind}]}]
        if self.purpose:
            category.append({"coding": [{"system": CONTACT_PURPOSE_SYSTEM, "code": self.purpose}]})
        if self.channel:
            category.append({"coding": [{"system": CHANNEL_SYSTEM, "code": self.channel}]})
        extension = []
        if self.template:
            extension.append({"url": TEMPLATE_EXTENSION, "valueString": self.template})
        if self.data:
            extension.append({"url": TIMER_DATA_EXTENSION, "valueString": json.dumps(self.data, sort_keys=True)})
        body: dict = {
            "resourceType": "CommunicationRequest",
            "identifier": [{"system": TIMER_IDENTIFIER_SYSTEM, "value": self.key}],
            "status": "active",
            "category": category,
            "occurrenceDateTime": fhir_datetime(self.due),
            "authoredOn": fhir_datetime(authored),
        }
        if extension:
            body["extension"] = extension
        if self.based_on:  # R4 JSON has no empty arrays
            body["basedOn"] = [{"reference": ref} for ref in self.based_on]
        if self.patient:
            body["subject"] = {"reference": self.patient}
            body["recipient"] = [{"reference": self.patient}]
        return body


def _code(resource: dict, system: str) -> str | None:
    for concept in resource.get("category", []):
        for coding in concept.get("coding", []):
            if coding.get("system") == system:
                return coding.get("code")
    return None


def _extension(resource: dict, url: str) -> str | None:
    return next((e.get("valueString") for e in resource.get("extension", []) if e.get("url") == url), None)


def timer_kind(request: dict) -> str:
    return _code(request, TIMER_KIND_SYSTEM) or MESSAGE


def message_kind(request: dict) -> str:
    """Which dispatcher sends the message a timer carries: ``survey`` when its data names a Questionnaire and it
    has a patient (signed link, fatigue rules), else ``message``."""
    return SURVEY if data_of(request).get("questionnaire") and patient_of(request) else MESSAGE


def dispatch_kind(request: dict) -> str:
    """The kind whose dispatcher handles ``request`` when it is due (a message timer: its message kind)."""
    kind = timer_kind(request)
    return message_kind(request) if kind == MESSAGE else kind


def timer_key(request: dict) -> str | None:
    ids = request.get("identifier", [])
    return next((i.get("value") for i in ids if i.get("system") == TIMER_IDENTIFIER_SYSTEM), None)


def purpose_of(request: dict) -> str | None:
    return _code(request, CONTACT_PURPOSE_SYSTEM)


def channel_of(request: dict) -> str | None:
    return _code(request, CHANNEL_SYSTEM)


def template_of(request: dict) -> str | None:
    return _extension(request, TEMPLATE_EXTENSION)


def data_of(request: dict) -> dict:
    raw = _extension(request, TIMER_DATA_EXTENSION)
    return json.loads(raw) if raw else {}


def patient_of(request: dict) -> str | None:
    return (request.get("subject") or {}).get("reference")


def based_on_of(request: dict) -> list[str]:
    return [ref["reference"] for ref in request.get("basedOn", []) if isinstance(ref.get("reference"), str)]
