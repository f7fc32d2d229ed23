"""SMART scopes as the store's access policy: what an ``AccessContext`` may reach, as search branches."""

from __future__ import annotations

from fhircrm.errors import Forbidden
from fhircrm.fhir.access import Branches
from fhircrm.fhir.compartment import compartment_branches, in_compartment
from fhircrm.smart.context import AccessContext
from fhircrm.smart.reach import reach
from fhircrm.smart.roles import Staff


class SmartPolicy:
    """``patient/`` grants reach the launch patient's compartment; granular scopes (``?category=...``) add their
    query; ``user/`` and ``system/`` grants without a query reach everything of the type.

    With ``staff`` (roles enforced, ``fhircrm.smart.roles``), each ``user/`` grant is narrowed further to what the
    person's roles reach (``fhircrm.smart.reach``): roles never widen what the scopes allow, and ``patient/`` and
    ``system/`` grants are not subject to them. When roles leave nothing, the refusal says why (403).

    Types outside the Patient compartment (Practitioner, Location, Organization...) are shared reference data: a
    ``patient/`` grant on them is not narrowed further.
    """

    def __init__(self, access: AccessContext, staff: Staff | None = None):
        self.access = access
        self.staff = staff

    def allow(self, interaction: str, resource_type: str) -> Branches:
        permission = self.access.require(interaction, resource_type)
        narrowed = self.staff is not None and "user" in permission.contexts
        if permission.unrestricted and not narrowed:
            return None
        branches: list[list[tuple[str, str]]] = []
        refusal = ""
        for grant in permission.grants:
            query = list(grant.query)
            if grant.context == "patient" and in_compartment(resource_type):
                if self.access.patient:  # without a launch patient, a patient/ grant reaches no patient's data
                    patient = self.access.patient
                    branches.extend(branch + query for branch in compartment_branches(resource_type, patient))
            elif grant.context == "user" and self.staff is not None:
                role = reach(self.staff, interaction, resource_type, launch_patient=self.access.patient)
                if role.branches is None:
                    if not query:
                        return None
                    branches.append(query)
                else:
                    branches.extend(branch + query for branch in role.branches)
                    refusal = refusal or role.reason
            elif grant.context == "system" and not query:
                return None
            else:
                branches.append(query)
        if not branches and refusal:
            raise Forbidden(refusal)
        return branches
