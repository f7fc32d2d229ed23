"""Who the development server's approval page offers to sign in as, and which patient to open: read from the
clinic's own directory, so a newcomer picks "Dana Reyes, care coordinator at Downtown" instead of typing ids.

Development only (the page has no login at all); the lists are capped, ordered by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.paging import every_match
from fhircrm.fhir.store import FhirStore
from fhircrm.smart.roles import local_reference
from fhircrm.stores import open_store

MAX_PEOPLE = 300
MAX_PATIENTS = 500
#: Roles listed first: the workspace's daily users.
ROLE_ORDER = {"coordinator": 0, "supervisor": 1, "clinician": 2, "administrator": 3}


@dataclass(frozen=True)
class Choice:
    value: str  # the reference the token will carry (fhirUser) or the patient id
    label: str


def _name(names: list[dict] | None) -> tuple[str, str]:
    """(shown name, sort key "family given") of a HumanName list."""
    name = (names or [{}])[0]
    given = " ".join(name.get("given", []))
    family = name.get("family", "")
    return (name.get("text") or f"{given} {family}".strip(), f"{family} {given}".lower())


def _roles(role: dict, settings: Settings) -> list[str]:
    mapped = settings.roles_code_map
    found = {
        mapped[f"{coding.get('system', '')}|{coding.get('code', '')}"]
        for concept in role.get("code") or []
        for coding in concept.get("coding") or []
        if f"{coding.get('system', '')}|{coding.get('code', '')}" in mapped
    }
    return sorted(found, key=lambda r: ROLE_ORDER.get(r, 9))


async def _places(store: FhirStore) -> dict[str, str]:
    places = await every_match(store, "Location", [("_count", "200")], limit=1000)
    return {f"Location/{p['id']}": p.get("name") or p["id"] for p in places}


async def staff_choices(store: FhirStore, settings: Settings) -> list[Choice]:
    """Active PractitionerRoles with a fhircrm role: "Name, coordinator at Site", coordinators first."""
    roles = await every_match(store, "PractitionerRole", [("active", "true"), ("_count", "500")], limit=MAX_PEOPLE)
    places = await _places(store)
    rows: list[tuple[int, str, Choice]] = []
    for role in roles:
        names = _roles(role, settings)
        if not names:
            continue
        shown = (role.get("practitioner") or {}).get("display") or role["id"]
        site = next(
            (places.get(local_reference(loc.get("reference")) or "", "") for loc in role.get("location", [])), ""
        )
        label = f"{shown}, {' and '.join(names)}" + (f" at {site}" if site else "")
        rows.append((ROLE_ORDER.get(names[0], 9), shown.lower(), Choice(f"PractitionerRole/{role['id']}", label)))
    return [choice for *_, choice in sorted(rows, key=lambda r: (r[0], r[1]))]


async def patient_choices(store: FhirStore) -> list[Choice]:
    """Patients by family name (the first ``MAX_PATIENTS``), with birth date to tell namesakes apart."""
    patients = await every_match(store, "Patient", [("_sort", "family"), ("_count", "500")], limit=MAX_PATIENTS)
    rows = []
    for patient in patients:
        shown, key = _name(patient.get("name"))
        born = patient.get("birthDate", "")
        rows.append((key, Choice(patient["id"], f"{shown or patient['id']}" + (f" (born {born})" if born else ""))))
    return [choice for _, choice in sorted(rows, key=lambda r: r[0])]


async def choices(engine: AsyncEngine, settings: Settings, *, people: bool, patients: bool) -> dict[str, list]:
    async with engine.connect() as conn:
        store = open_store(conn, settings, policy=ServiceScope("devserver"))
        return {
            "people": await staff_choices(store, settings) if people else [],
            "patients": await patient_choices(store) if patients else [],
        }
