"""SMART scopes, the access table and roles as the store's access policy: what an ``AccessContext`` may reach,
as search branches."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.errors import Forbidden
from fhircrm.fhir.access import Branches
from fhircrm.fhir.changes import Change
from fhircrm.fhir.compartment import compartment_branches
from fhircrm.smart import role_changes
from fhircrm.smart.access_table import ROLE_KINDS, decide, refusal
from fhircrm.smart.context import AccessContext
from fhircrm.smart.reach import reach
from fhircrm.smart.roles import Staff
from fhircrm.smart.scopes import Grant


class SmartPolicy:
    """Three questions, each of which may only narrow the previous one's answer:

    1. the token's scopes (``AccessContext.require``): may this app do the interaction on the type at all;
    2. the access table (``fhircrm.smart.access_table``): for each granting scope's kind (``patient``, ``user``,
       each of the person's roles, ``system``), allow, narrow or deny;
    3. what *narrow* means: a ``patient/`` grant reaches the launch patient's compartment, a role its patients
       (``fhircrm.smart.reach``). A granular scope's query (``?category=...``) is AND-ed to each branch.

    With ``staff`` (roles enforced, ``fhircrm.smart.roles``) a ``user/`` grant is decided by the person's roles;
    without it (scope-only deployments, ``FHIRCRM_ROLES_ENFORCED=false``) by the ``user`` row of the table.
    """

    def __init__(self, access: AccessContext, staff: Staff | None = None):
        self.access = access
        self.staff = staff

    def allow(self, interaction: str, resource_type: str) -> Branches:
        permission = self.access.require(interaction, resource_type)
        branches: list[list[tuple[str, str]]] = []
        refusals: list[str] = []
        for grant in permission.grants:
            granted = self._grant(grant, interaction, resource_type, refusals)
            if granted is None:
                return None
            branches.extend(granted)
        if not branches and refusals:
            raise Forbidden(refusals[0])
        return branches

    def _grant(
        self, grant: Grant, interaction: str, resource_type: str, refusals: list[str]
    ) -> list[list[tuple[str, str]]] | None:
        """What one granting scope reaches (None: everything it names)."""
        query = list(grant.query)
        kinds = self._kinds(grant)
        if not kinds:
            refusals.append("the signed-in user has no fhircrm role (a PractitionerRole code mapped to one)")
            return []
        decisions = {kind: decide(kind, interaction, resource_type) for kind in kinds}
        if "allow" in decisions.values():
            return None if not query else [query]
        narrowing = frozenset(kind for kind, decision in decisions.items() if decision == "narrow")
        if not narrowing:
            refusals.append(refusal(kinds, interaction, resource_type))
            return []
        if grant.context == "patient":
            patient = self.access.patient  # without a launch patient, a patient/ grant reaches no one's data
            return [branch + query for branch in compartment_branches(resource_type, patient)] if patient else []
        assert self.staff is not None
        found = reach(self.staff, narrowing, resource_type, launch_patient=self.access.patient)
        return [branch + query for branch in found]

    def _kinds(self, grant: Grant) -> tuple[str, ...]:
        if grant.context != "user":
            return (grant.context,)
        if self.staff is None:
            return ("user",)
        return tuple(kind for kind in ROLE_KINDS if kind in self.staff.roles)

    # --- what a write may contain, and what it leaves behind ---------------------------------------------

    def check_change(self, resource_type: str, before: dict | None, after: dict | None) -> None:
        """Nobody changes their own roles: a person's PractitionerRoles (or one naming them) are written by
        someone else, so an administrator cannot make themselves more, nor a compromised account keep itself."""
        if resource_type != "PractitionerRole" or self.staff is None:
            return
        if role_changes.concerns(self.staff.own, before) or role_changes.concerns(self.staff.own, after):
            raise Forbidden("nobody changes their own roles: another administrator must make this change")

    async def after_write(self, conn: AsyncConnection, changes: list[Change]) -> None:
        """Role changes leave an AuditEvent naming before and after, and who made them."""
        await role_changes.audit(conn, self.access, changes)
