"""SMART scopes as the store's access policy: what an ``AccessContext`` may reach, as search branches."""

from __future__ import annotations

from fhircrm.fhir.access import Branches
from fhircrm.fhir.compartment import compartment_branches, in_compartment
from fhircrm.smart.context import AccessContext


class SmartPolicy:
    """``patient/`` grants reach the launch patient's compartment; granular scopes (``?category=...``) add their
    query; ``user/`` and ``system/`` grants without a query reach everything of the type.

    Types outside the Patient compartment (Practitioner, Location, Organization...) are shared reference data: a
    ``patient/`` grant on them is not narrowed further.
    """

    def __init__(self, access: AccessContext):
        self.access = access

    def allow(self, interaction: str, resource_type: str) -> Branches:
        permission = self.access.require(interaction, resource_type)
        if permission.unrestricted:
            return None
        branches: list[list[tuple[str, str]]] = []
        for grant in permission.grants:
            query = list(grant.query)
            if grant.context == "patient" and in_compartment(resource_type) and self.access.patient:
                branches.extend(branch + query for branch in compartment_branches(resource_type, self.access.patient))
            else:
                branches.append(query)
        return branches
