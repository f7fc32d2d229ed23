"""Terminology used by the demo data: code system URLs, service lines and small builders.

Kept in one place so the CRM code and the tests can refer to the exact systems the
generator writes (e.g. to find a patient's channel opt-outs in Consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --- fhircrm-defined systems -------------------------------------------------------
SERVICE_LINE_SYSTEM = "http://fhircrm.org/CodeSystem/service-line"
CRM_ROLE_SYSTEM = "http://fhircrm.org/CodeSystem/crm-role"
CHANNEL_SYSTEM = "http://fhircrm.org/CodeSystem/channel"
CONTACT_PURPOSE_SYSTEM = "http://fhircrm.org/CodeSystem/contact-purpose"
TASK_TYPE_SYSTEM = "http://fhircrm.org/CodeSystem/task-type"
TASK_BUSINESS_STATUS_SYSTEM = "http://fhircrm.org/CodeSystem/task-business-status"
DATA_ORIGIN_SYSTEM = "http://fhircrm.org/CodeSystem/data-origin"
PREFERRED_CHANNEL_URL = "http://fhircrm.org/StructureDefinition/preferred-channel"
NPS_QUESTIONNAIRE_URL = "http://fhircrm.org/Questionnaire/demo-nps"
NPS_ITEM_TEXT = (
    "How likely are you to recommend our clinic to a friend or family member? "
    "(0 = not at all likely, 10 = extremely likely)"
)
NPS_COMMENT_TEXT = "What is the main reason for your score?"

# --- demo organisation identifiers ------------------------------------------------
MRN_SYSTEM = "http://demo-clinic.example.org/mrn"
STAFF_ID_SYSTEM = "http://demo-clinic.example.org/staff-id"
MEMBER_ID_SYSTEM = "http://demo-health-plan.example.org/member-id"

# --- external systems -------------------------------------------------------------
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
BCP47 = "urn:ietf:bcp:47"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0276 = "http://terminology.hl7.org/CodeSystem/v2-0276"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PRACTITIONER_ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
COVERAGE_SELFPAY = "http://terminology.hl7.org/CodeSystem/coverage-selfpay"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
COMMUNICATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/communication-category"
CANCELLATION_REASON = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
MIN_VALUE_EXT = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE_EXT = "http://hl7.org/fhir/StructureDefinition/maxValue"


CHANNELS: tuple[str, ...] = ("sms", "whatsapp", "email", "voice")
CHANNEL_DISPLAY = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "E-mail", "voice": "Voice call"}
# R4 v3-ParticipationMode has no SMS/WhatsApp code: SMS is generic "written",
# WhatsApp is an online chat message; the exact channel is in Communication.category.
CHANNEL_MEDIUM: dict[str, tuple[str, str]] = {
    "sms": ("WRITTEN", "written"),
    "whatsapp": ("ONLINEWRIT", "online written"),
    "email": ("EMAILWRIT", "email"),
    "voice": ("PHONE", "telephone"),
}

# Displays as published in profiles/CodeSystem-*.json.
TASK_TYPES = {"callback": "Call back", "reschedule": "Reschedule", "complaint": "Complaint"}
TASK_BUSINESS_STATUS = {
    "new": "New",
    "attempted": "Contact attempted",
    "no-answer": "No answer",
    "investigating": "Investigating",
    "resolved": "Resolved",
}

LANGUAGE_DISPLAY = {"en": "English", "es": "Spanish", "pt": "Portuguese"}


@dataclass(frozen=True)
class ServiceLine:
    """A clinic service line with its SNOMED practice specialty and slot length."""

    code: str
    display: str
    specialty_code: str
    specialty_display: str
    slot_minutes: int


SERVICE_LINES: tuple[ServiceLine, ...] = (
    ServiceLine("primary-care", "Primary care", "394814009", "General practice", 30),
    ServiceLine("cardiology", "Cardiology", "394579002", "Cardiology", 30),
    ServiceLine("dermatology", "Dermatology", "394582007", "Dermatology", 15),
    ServiceLine("pediatrics", "Pediatrics", "394537008", "Pediatric specialty", 15),
    ServiceLine("physiotherapy", "Physiotherapy", "394602003", "Rehabilitation", 30),
)
SERVICE_LINE_BY_CODE = {line.code: line for line in SERVICE_LINES}


def demo_meta() -> dict[str, Any]:
    """Fresh meta with the demo tag (fresh: servers mutate meta, so it must not be shared)."""
    return {"tag": [{"system": DATA_ORIGIN_SYSTEM, "code": "demo", "display": "Synthetic demo data"}]}


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """Build a Coding, omitting an absent display."""
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    """Build a single-coding CodeableConcept."""
    out: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def ref(resource_type: str, resource_id: str, display: str | None = None) -> dict[str, Any]:
    """Build a relative Reference ("Type/id")."""
    out: dict[str, Any] = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def service_type(line: ServiceLine) -> dict[str, Any]:
    """The service-line CodeableConcept used for HealthcareService.type and Appointment.serviceType."""
    return concept(SERVICE_LINE_SYSTEM, line.code, line.display)


def specialty(line: ServiceLine) -> dict[str, Any]:
    """The SNOMED practice-setting specialty of a service line."""
    return concept(SNOMED, line.specialty_code, line.specialty_display)


def channel_concept(channel: str) -> dict[str, Any]:
    """The fhircrm channel category (sms|whatsapp|email|voice)."""
    return concept(CHANNEL_SYSTEM, channel, CHANNEL_DISPLAY[channel])


def medium_concept(channel: str) -> dict[str, Any]:
    """The closest R4 ParticipationMode for a channel."""
    code, display = CHANNEL_MEDIUM[channel]
    return concept(V3_PARTICIPATION_MODE, code, display, text=CHANNEL_DISPLAY[channel])
