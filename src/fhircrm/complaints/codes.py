"""Complaint codes, extensions and SLA windows."""

from __future__ import annotations

TASK_TYPE_SYSTEM = "http://fhircrm.org/CodeSystem/task-type"
BUSINESS_STATUS_SYSTEM = "http://fhircrm.org/CodeSystem/task-business-status"
SLA_SYSTEM = "http://fhircrm.org/CodeSystem/complaint-sla"
CRM_ROLE_SYSTEM = "http://fhircrm.org/CodeSystem/crm-role"
SERVICE_LINE_SYSTEM = "http://fhircrm.org/CodeSystem/service-line"
CHANNEL_SYSTEM = "http://fhircrm.org/CodeSystem/channel"
SEVERITY_URL = "http://fhircrm.org/StructureDefinition/complaint-severity"
SERVICE_LINE_URL = "http://fhircrm.org/StructureDefinition/service-line"
CHANNEL_URL = "http://fhircrm.org/StructureDefinition/complaint-channel"
ACK_DUE_URL = "http://fhircrm.org/StructureDefinition/acknowledgement-due"
ESCALATED_URL = "http://fhircrm.org/StructureDefinition/escalated-at"
FLAG_SYSTEM = "http://fhircrm.org/complaint-flag"
OPEN_STATUSES = ("requested", "received", "accepted", "ready", "in-progress", "on-hold")
#: severity -> Task.priority (the complaint journey times its reminders from the priority)
PRIORITY = {"critical": "stat", "high": "asap", "medium": "urgent", "low": "routine"}
#: priority -> (acknowledge within, resolve within) in hours
SLA_HOURS = {"stat": (1, 4), "asap": (4, 24), "urgent": (8, 48), "routine": (24, 120)}
ESCALATE = {"routine": "urgent", "urgent": "asap", "asap": "stat", "stat": "stat"}
