"""Who the person behind a token's ``fhirUser`` is in the clinic: their fhircrm roles and their team.

Both come from the store's PractitionerRoles, the way a clinic already models its staff:

* **roles**: the ``code`` codings of the person's *active* PractitionerRoles (``active`` not false, ``period``
  covering today), mapped by ``FHIRCRM_ROLES_CODE_MAP`` (``"system|code" -> role``; by default the
  ``http://fhircrm.org/CodeSystem/crm-role`` codes map to themselves). A ``fhirUser`` of ``PractitionerRole/y``
  stands for its practitioner: every active role of that practitioner counts.
* **team** (coordinators and supervisors): the active PractitionerRoles that share a Location (by default; see
  ``FHIRCRM_ROLES_TEAM_BY``: location, service, organization) with one of the person's coordinator or supervisor
  roles, with their practitioners. In the demo clinic that is a site's clinicians and its care coordinator.
* **organizations** (supervisors): the ``organization`` of their supervisor roles.

Resolved once per request, with the request's own connection: nothing is kept between requests, so every
replica answers the same and a changed PractitionerRole counts from the next request on.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from fhircrm.config import Settings
from fhircrm.errors import FhircrmError
from fhircrm.fhir.paging import every_match
from fhircrm.fhir.references import split
from fhircrm.fhir.store import ID_PATTERN, FhirStore
from fhircrm.smart.context import AccessContext

Role = Literal["clinician", "coordinator", "supervisor", "administrator"]
#: Roles that work with patients (the clinical pages of the workspace).
CLINICAL_ROLES: frozenset[str] = frozenset({"clinician", "coordinator", "supervisor"})
#: Roles whose reach is a team rather than the person's own patients.
TEAM_ROLES: frozenset[str] = frozenset({"coordinator", "supervisor"})
#: FHIRCRM_ROLES_TEAM_BY value -> (PractitionerRole search parameter, element holding the references).
TEAM_LINKS = {
    "location": ("location", "location"),
    "service": ("service", "healthcareService"),
    "organization": ("organization", "organization"),
}
#: A team larger than this is cut (and the search values would get unwieldy): a misconfiguration, not a team.
MAX_TEAM_ROLES = 2000
PAGE = 500
_TYPE = re.compile(r"^[A-Z][A-Za-z]{0,63}$")


@dataclass(frozen=True, slots=True)
class Staff:
    """The person's fhircrm roles and what they reach: references to people and roles, never patient data."""

    user: str | None
    roles: frozenset[str] = frozenset()
    own: tuple[str, ...] = ()  # Practitioner/x and the person's active PractitionerRole/y
    team: tuple[str, ...] = ()  # own, plus the team's PractitionerRoles and their Practitioners
    organizations: tuple[str, ...] = ()  # Organization/z of supervisor roles

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def clinical(self) -> bool:
        return self.has(*CLINICAL_ROLES)

    def fingerprint(self) -> tuple:
        """What decides this person's reach: equal fingerprints see the same data (a cache key)."""
        return (tuple(sorted(self.roles)), self.own, self.team, self.organizations)


def applies(access: AccessContext, settings: Settings) -> bool:
    """Roles narrow ``user/`` grants of real tokens only: not development access, not patient/ or system/."""
    return settings.roles_enforced and not access.development and "user" in access.scopes.contexts


def local_reference(reference: str | None) -> str | None:
    """``Practitioner/1`` from ``Practitioner/1`` or an absolute ``https://ehr/fhir/Practitioner/1``; None for
    anything else (a valid id never holds the commas and backslashes that would change a search's meaning)."""
    if not reference:
        return None
    parts = reference.split("/_history", 1)[0].rstrip("/").split("/")
    if len(parts) < 2 or not _TYPE.match(parts[-2]) or not ID_PATTERN.match(parts[-1]):
        return None
    return f"{parts[-2]}/{parts[-1]}"


async def resolve_staff(store: FhirStore, fhir_user: str | None, settings: Settings) -> Staff:
    """The person's roles and team. ``store`` must be unscoped (fhircrm's own lookup, not the caller's)."""
    user = local_reference(fhir_user)
    today = dt.date.today().isoformat()
    own_roles = [r for r in await _roles_of(store, user) if _active(r, today)]
    roles = [(role, _mapped(role, settings)) for role in own_roles]
    names = frozenset(name for _, mapped in roles for name in mapped)
    practitioners = {_ref(r.get("practitioner")) for r in own_roles} - {None}
    if user and user.startswith("Practitioner/"):
        practitioners.add(user)
    own = tuple(sorted(practitioners)) + tuple(f"PractitionerRole/{r['id']}" for r in own_roles)
    leads = [r for r, mapped in roles if mapped & TEAM_ROLES]
    team_roles = await _team_of(store, leads, settings, today) if leads else []
    team = dict.fromkeys(own)
    for member in team_roles:
        team[f"PractitionerRole/{member['id']}"] = None
        if practitioner := _ref(member.get("practitioner")):
            team[practitioner] = None
    organizations = {ref for r, mapped in roles if "supervisor" in mapped if (ref := _ref(r.get("organization")))}
    return Staff(user, names, own, tuple(team), tuple(sorted(organizations)))


async def _roles_of(store: FhirStore, user: str | None) -> list[dict]:
    if user is None:
        return []
    kind, fhir_id = split(user)
    if kind == "PractitionerRole":
        try:
            role = (await store.read("PractitionerRole", fhir_id)).content or {}
        except FhircrmError:  # unknown, deleted or a malformed id: the person has no role here
            return []
        practitioner = _ref(role.get("practitioner"))
        return await _search(store, [("practitioner", practitioner)]) if practitioner else [role]
    if kind == "Practitioner":
        return await _search(store, [("practitioner", user)])
    return []  # Patient, RelatedPerson, Person: not staff


async def _team_of(store: FhirStore, leads: list[dict], settings: Settings, today: str) -> list[dict]:
    found: dict[str, dict] = {}
    for link in settings.roles_team_by:
        param, element = TEAM_LINKS[link]
        refs = sorted({ref for r in leads for ref in _refs(r.get(element))})
        if refs:
            for role in await _search(store, [(param, ",".join(refs))]):
                found.setdefault(role["id"], role)
    return [r for r in found.values() if _active(r, today)]


async def _search(store: FhirStore, params: list[tuple[str, str]]) -> list[dict]:
    sorted_params = [*params, ("_sort", "_id")]  # stable pages
    return await every_match(store, "PractitionerRole", sorted_params, limit=MAX_TEAM_ROLES, page=PAGE)


def _mapped(role: dict, settings: Settings) -> frozenset[str]:
    codes = settings.roles_code_map
    return frozenset(
        codes[key]
        for concept in role.get("code") or []
        for coding in (concept or {}).get("coding") or []
        if (key := f"{coding.get('system', '')}|{coding.get('code', '')}") in codes
    )


def _active(role: dict, today: str) -> bool:
    """``active`` not false and ``period`` (compared by date) covering today."""
    if role.get("active") is False:
        return False
    period = role.get("period") or {}
    start, end = str(period.get("start", ""))[:10], str(period.get("end", ""))[:10]
    return (not start or start <= today) and (not end or today <= end)


def _ref(value: object) -> str | None:
    reference = value.get("reference") if isinstance(value, dict) else None
    return local_reference(reference) if isinstance(reference, str) else None


def _refs(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [ref for item in items if (ref := _ref(item))]
