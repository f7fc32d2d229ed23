"""Who signed in, in words: the name shown in the staff top bar instead of a ``fhirUser`` reference.

Read once at sign-in from the directory (fhircrm's own lookup, like the role lookup of ``fhircrm.smart.roles``):
a ``PractitionerRole`` stands for its practitioner, whose name is taken from the Practitioner (or the role's
``practitioner.display``), with the role's site when it has one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.errors import FhircrmError
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.smart.roles import local_reference
from fhircrm.stores import open_store


def human(name_list: list[dict] | None) -> str:
    """A HumanName list as "Given Family" (``text`` first), empty when there is none."""
    names = name_list or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    return str(name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip())


async def _read(store: FhirStore, resource_type: str, fhir_id: str) -> dict:
    try:
        return (await store.read(resource_type, fhir_id)).content or {}
    except FhircrmError:  # unknown, deleted or malformed: no name, not an error page
        return {}


async def person_name(store: FhirStore, fhir_user: str | None) -> str | None:
    """The display name of ``fhir_user`` (Practitioner, PractitionerRole, Patient, RelatedPerson), or None."""
    reference = local_reference(fhir_user)
    if reference is None:
        return None
    kind, fhir_id = split(reference)
    resource = await _read(store, kind, fhir_id)
    if kind == "PractitionerRole":
        practitioner = resource.get("practitioner") or {}
        target = local_reference(practitioner.get("reference"))
        person = await _read(store, "Practitioner", split(target)[1]) if target else {}
        return human(person.get("name")) or practitioner.get("display") or None
    return human(resource.get("name")) or None


async def signed_in_name(engine: AsyncEngine, settings: Settings, fhir_user: str | None) -> str | None:
    """``person_name`` on a connection of its own (the sign-in callback has no request store)."""
    if not fhir_user:
        return None
    async with engine.connect() as conn:
        return await person_name(open_store(conn, settings, policy=ServiceScope("smartapp")), fhir_user)
