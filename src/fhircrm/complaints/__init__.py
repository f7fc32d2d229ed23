"""Complaints and service recovery: a complaint from any channel is a Task with category, severity, location,
service line and owner; acknowledgement and resolution SLAs by severity warn, breach and escalate; closing
needs a resolution and asks the patient how it went (a complaint-closure survey)."""

from fhircrm.complaints.close import close_complaint
from fhircrm.complaints.intake import Complaint, open_complaint
from fhircrm.complaints.sla import check_slas

__all__ = ["Complaint", "check_slas", "close_complaint", "open_complaint"]
