"""Consent in exports: a patient's objection to data sharing (see ``fhircrm.ehr.objections``) hides their
engagement data from ``$everything``, except from the patient themself (a token whose ``patient`` is them).

The clinical record the CRM mirrors from the EHR stays visible: the objection is about what the CRM learned in
its conversations with the patient, and the Consent itself is never hidden.
"""

from __future__ import annotations

from fhircrm.config import Settings
from fhircrm.ehr.objections import objects_to_sharing
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.smart.context import AccessContext
from fhircrm.stores import open_store

ENGAGEMENT_TYPES = ("Communication", "CommunicationRequest", "Task", "QuestionnaireResponse", "RiskAssessment", "Flag")


async def hidden_from_export(store: FhirStore, settings: Settings, patient_id: str, access: AccessContext) -> tuple:
    """The resource types to leave out of ``patient_id``'s export for this caller."""
    if access.patient == patient_id:
        return ()
    # the caller's scopes need not cover Consent: the objection is checked on fhircrm's own behalf
    if await objects_to_sharing(
        open_store(store.conn, settings, policy=ServiceScope("consent")), f"Patient/{patient_id}"
    ):
        return ENGAGEMENT_TYPES
    return ()
