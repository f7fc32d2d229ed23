"""What a signed-in session may see: the scopes its token was granted, its launch context and the person's roles.

The pages read the store server-side, so the app itself enforces what the token would allow at the FHIR API:
a ``patient/`` grant opens only the launch patient; the worklist and inbox need ``user/`` grants. With roles
enforced (``FHIRCRM_ROLES_ENFORCED``, the default) the clinical pages (patient 360, worklist, inbox, dashboard)
are for clinicians, coordinators and supervisors, and the admin page for administrators; the session's store
narrows what each page shows to the person's patients or team (``fhircrm.smart.reach``).
"""

from __future__ import annotations

from fastapi import Request

from fhircrm.config import Settings
from fhircrm.smart import Scopes
from fhircrm.smart.roles import Staff
from fhircrm.smartapp.sessions import AppSession
from fhircrm.ui.web import Forbidden


def scopes(session: AppSession) -> Scopes:
    return Scopes.parse(session.scope)


def may_open_patient(session: AppSession, patient_id: str) -> bool:
    """A launch with a patient stays on that patient (the EHR decides which chart is open, whatever ``user/``
    reads the token also carries); without one, a ``user/`` (or ``system/``) read of Patient opens any patient the
    person's roles reach (the store decides which)."""
    if session.patient:
        return session.patient == patient_id
    return bool(scopes(session).permission("read", "Patient").contexts - {"patient"})


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


def staff_of(request: Request) -> Staff | None:
    """The person's roles, resolved by the page's session store (``SessionStoreDep``); None: not enforced."""
    settings: Settings = request.app.state.settings
    if not settings.roles_enforced:
        return None
    staff = getattr(request.state, "staff", None)
    if staff is None:  # a page guarded without its session store: refuse rather than guess
        raise Forbidden("your roles could not be determined for this page")
    return staff


def require_clinical(request: Request) -> None:
    """Patient 360, worklist, inbox, dashboard: clinicians, coordinators and supervisors."""
    staff = staff_of(request)
    if staff is not None and not staff.clinical:
        raise Forbidden(_refusal(staff, "this screen is for clinicians, care coordinators and supervisors"))


def require_administrator(request: Request, session: AppSession) -> None:
    """The admin page: administrators (scopes only, when roles are not enforced: some user/ grant)."""
    staff = staff_of(request)
    if staff is None:
        require_signed_in_user(session)
    elif not staff.has("administrator"):
        raise Forbidden(_refusal(staff, "this screen is for administrators"))


def screens(request: Request) -> dict[str, bool]:
    """Which screens the navigation offers (the guards above decide; this only hides links that would refuse)."""
    settings: Settings = request.app.state.settings
    staff: Staff | None = getattr(request.state, "staff", None)
    if not settings.roles_enforced or staff is None:
        return {"clinical": True, "admin": True}
    return {"clinical": staff.clinical, "admin": staff.has("administrator")}


def _refusal(staff: Staff, message: str) -> str:
    if not staff.roles:
        return f"{message}; your sign-in has no fhircrm role (ask for a PractitionerRole with one)"
    return f"{message}; your role: {', '.join(sorted(staff.roles))}"


def _system(session: AppSession) -> bool:
    return any(s.context == "system" for s in scopes(session).resources)
