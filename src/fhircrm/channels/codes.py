"""The code systems and extension URLs the channels write into Communications, Consents and Tasks."""

from __future__ import annotations

CHANNEL_SYSTEM = "http://fhircrm.org/CodeSystem/channel"
PURPOSE_SYSTEM = "http://fhircrm.org/CodeSystem/contact-purpose"
TASK_TYPE_SYSTEM = "http://fhircrm.org/CodeSystem/task-type"
STATUS_REASON_SYSTEM = "http://fhircrm.org/CodeSystem/message-status-reason"
TOPIC_SYSTEM = "http://fhircrm.org/CodeSystem/thread-topic"
DEDUPE_SYSTEM = "http://fhircrm.org/identifier/message-dedupe"
PROVIDER_ID_SYSTEM = "http://fhircrm.org/identifier/provider-message-id"
PREFERRED_CHANNEL_URL = "http://fhircrm.org/StructureDefinition/preferred-channel"
PROVIDER_URL = "http://fhircrm.org/StructureDefinition/delivery-provider"
ADDRESS_URL = "http://fhircrm.org/StructureDefinition/channel-address"
NOT_BEFORE_URL = "http://fhircrm.org/StructureDefinition/not-before"
TEMPLATE_URL = "http://fhircrm.org/StructureDefinition/message-template"
SUBJECT_URL = "http://fhircrm.org/StructureDefinition/message-subject"
TZ_URL = "http://hl7.org/fhir/StructureDefinition/tz-code"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
MEDIUM_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"

CHANNELS = ("sms", "whatsapp", "email", "voice", "webchat", "webform", "local")
#: The channels a patient can be contacted on, in the order tried when nothing is preferred.
OUTBOUND_CHANNELS = ("sms", "email", "whatsapp", "voice")
MEDIUM = {
    "sms": ("WRITTEN", "written"),
    "whatsapp": ("ONLINEWRIT", "online written"),
    "email": ("EMAILWRIT", "email"),
    "voice": ("PHONE", "telephone"),
    "webchat": ("ONLINEWRIT", "online written"),
    "webform": ("ONLINEWRIT", "online written"),
    "local": ("WRITTEN", "written"),
}
PURPOSES = ("appointment-reminders", "care-coordination", "education", "survey", "marketing")
#: Purposes that need an explicit permit in a Consent; the others are allowed unless refused.
OPT_IN_PURPOSES = frozenset({"marketing"})

STATUS_REASONS = {
    "consent": "No consent for this channel and purpose",
    "opted-out": "The patient opted out of this channel (STOP)",
    "frequency-cap": "Too many messages to this patient recently",
    "no-address": "No address for this channel",
    "undeliverable": "The provider could not deliver the message",
    "rejected": "The provider refused the message",
    "unconfirmed": "The sender stopped while sending; delivery is not confirmed",
}


def coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def concept(system: str, code: str, display: str | None = None) -> dict:
    return {"coding": [coding(system, code, display)]}


def channel_concept(channel: str) -> dict:
    return concept(CHANNEL_SYSTEM, channel)


def status_reason(code: str) -> dict:
    return {**concept(STATUS_REASON_SYSTEM, code, STATUS_REASONS[code]), "text": STATUS_REASONS[code]}


def code_of(value: dict | None, system: str) -> str | None:
    for item in (value or {}).get("coding", []):
        if item.get("system") == system:
            return item.get("code")
    return None


def channel_of(resource: dict) -> str | None:
    for category in resource.get("category", []):
        if code := code_of(category, CHANNEL_SYSTEM):
            return code
    return None


def extension(resource: dict, url: str) -> object | None:
    for ext in resource.get("extension", []):
        if ext.get("url") == url:
            return next((v for k, v in ext.items() if k.startswith("value")), None)
    return None


def identifier(resource: dict, system: str) -> str | None:
    return next((i.get("value") for i in resource.get("identifier", []) if i.get("system") == system), None)
