"""Code systems and identifiers of the experience surveys."""

from __future__ import annotations

TOUCHPOINT_SYSTEM = "http://fhircrm.org/CodeSystem/touchpoint"
TOUCHPOINTS = (
    "website",
    "phone",
    "whatsapp",
    "front-desk",
    "waiting-room",
    "care-encounter",
    "discharge",
    "post-visit",
    "result-delivery",
    "complaint-closure",
)
QUESTIONNAIRE_BASE = "http://fhircrm.org/Questionnaire/"
NPS_URL, CSAT_URL, PREM_URL = (f"{QUESTIONNAIRE_BASE}{k}" for k in ("nps", "csat", "prem"))
RATING_ITEMS = ("nps", "csat")  # the linkIds that carry the score
TOKEN_SYSTEM = "http://fhircrm.org/survey-invitation"
RECOVERY_SYSTEM = "http://fhircrm.org/service-recovery"
CHANNEL_URL = "http://fhircrm.org/StructureDefinition/answered-on"
CONTACT_PURPOSE_SYSTEM = "http://fhircrm.org/CodeSystem/contact-purpose"
TASK_TYPE_SYSTEM = "http://fhircrm.org/CodeSystem/task-type"
OPEN_TASK_STATUSES = "draft,requested,received,accepted,ready,in-progress,on-hold"
