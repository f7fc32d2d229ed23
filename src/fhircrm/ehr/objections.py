"""A patient's objection to data sharing, read from their active Consent resources.

Our interpretation (issue 7: "a patient's objection to data sharing hides their engagement data from write-back
and exports"): a patient objects when one of their ``status=active`` Consents has a provision, top-level or
nested, of ``type=deny`` whose ``action`` includes ``disclose`` (http://terminology.hl7.org/CodeSystem/
consentaction) and whose ``period``, if any, covers now. Narrower rules (a deny for one purpose or one data
class) are not treated as a general objection. The Consent itself is never hidden: the EHR has to learn of it.
"""

from __future__ import annotations

from datetime import datetime

from fhircrm.fhir.search.dates import InvalidDate, date_range
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs.queue import utcnow

CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
DISCLOSE = "disclose"
#: Where each engagement resource names its patient.
PATIENT_ELEMENT = {
    "Communication": "subject",
    "CommunicationRequest": "subject",
    "Task": "for",
    "QuestionnaireResponse": "subject",
    "RiskAssessment": "subject",
}


def patient_of(resource: dict) -> str | None:
    """``Patient/<id>`` the engagement resource is about, or None."""
    element = PATIENT_ELEMENT.get(resource.get("resourceType", ""))
    reference = ((resource.get(element) or {}) if element else {}).get("reference")
    return reference if isinstance(reference, str) and reference.startswith("Patient/") else None


async def objects_to_sharing(store: FhirStore, patient: str) -> bool:
    found = await store.search("Consent", [("patient", patient), ("status", "active"), ("_count", "100")])
    now = utcnow()
    return any(denies_disclosure(c.get("provision") or {}, now) for c in found.matches)


def denies_disclosure(provision: dict, now: datetime) -> bool:
    if provision.get("type") == "deny" and _covers(provision.get("period"), now):
        codes = {(c.get("system"), c.get("code")) for a in provision.get("action", []) for c in a.get("coding", [])}
        if (CONSENT_ACTION, DISCLOSE) in codes:
            return True
    return any(denies_disclosure(p, now) for p in provision.get("provision", []))


def _covers(period: dict | None, now: datetime) -> bool:
    if not period:
        return True
    try:
        if period.get("start") and now < date_range(period["start"])[0]:
            return False
        if period.get("end") and now >= date_range(period["end"])[1]:
            return False
    except InvalidDate:
        return True  # an unreadable period: err on the side of the objection
    return True
