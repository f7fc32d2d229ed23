"""What a signed-in session may see, from the scopes its token was granted and its launch context.

The pages read the store server-side, so the app itself enforces what the token would allow at the FHIR API:
a ``patient/`` grant opens only the launch patient; the worklist and inbox need ``user/`` grants.
"""

from __future__ import annotations

from fhircrm.smart import Scopes
from fhircrm.smartapp.sessions import AppSession
from fhircrm.ui.web import Forbidden


def scopes(session: AppSession) -> Scopes:
    return Scopes.parse(session.scope)


def may_open_patient(session: AppSession, patient_id: str) -> bool:
    contexts = scopes(session).permission("read", "Patient").contexts
    return bool(contexts - {"patient"}) or ("patient" in contexts and session.patient == patient_id)


def require_patient(session: AppSession, patient_id: str) -> None:
    if not may_open_patient(session, patient_id):
        raise Forbidden("this session was launched for another patient: open this patient from the EHR")


def require_user(session: AppSession, interaction: str, resource_type: str) -> None:
    """A user-level grant (a coordinator, not a patient-scoped view) for ``interaction`` on ``resource_type``."""
    if "user" not in scopes(session).permission(interaction, resource_type).contexts and not _system(session):
        raise Forbidden(f"your sign-in does not allow {interaction} on {resource_type} for all patients")


def require_signed_in_user(session: AppSession) -> None:
    """Aggregate screens (dashboard, admin) need a person with some user-level grant."""
    if not any(s.context == "user" for s in scopes(session).resources):
        raise Forbidden("this screen is for signed-in staff (user/ scopes)")


def _system(session: AppSession) -> bool:
    return any(s.context == "system" for s in scopes(session).resources)
