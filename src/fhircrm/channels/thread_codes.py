"""Codes and extensions of conversation threads (the inbox's Tasks), beside the thread model in ``threads``."""

from __future__ import annotations

INBOX_SYSTEM = "http://fhircrm.org/CodeSystem/inbox"
STATE_SYSTEM = "http://fhircrm.org/CodeSystem/inbox-state"
REASON_SYSTEM = "http://fhircrm.org/CodeSystem/inbox-reason"
TOPIC_INPUT = "topic"
CHANNEL_INPUT = "channel"
RESOLUTION_OUTPUT = "resolution"
FIRST_RESPONSE_DUE_URL = "http://fhircrm.org/StructureDefinition/first-response-due"
FIRST_RESPONSE_AT_URL = "http://fhircrm.org/StructureDefinition/first-response-at"
RESOLUTION_DUE_URL = "http://fhircrm.org/StructureDefinition/resolution-due"
TEAM_URL = "http://fhircrm.org/StructureDefinition/inbox-team"
STATES = ("unread", "waiting", "answered", "resolved")
#: (first response, resolution) in minutes per reason; "general" for anything else.
SLA_MINUTES = {
    "complaint": (60, 1440),
    "clinical": (120, 1440),
    "appointment": (240, 2880),
    "billing": (480, 4320),
    "identify-sender": (240, 2880),
    "general": (240, 2880),
}
SLA_ALERT_URL = "http://fhircrm.org/StructureDefinition/sla-alert"
SLA_SYSTEM = "http://fhircrm.org/CodeSystem/inbox-sla"
ADDRESS_INPUT = "address"
CRM_ROLE_SYSTEM = "http://fhircrm.org/CodeSystem/crm-role"
