"""Read what a reference names, when "not there" is an answer: unknown or deleted reads as missing (None).

Only those two: any other error (the database down or busy, a policy refusal) propagates, so an outage is never
taken for a patient, appointment or reply that does not exist and acted upon as such.
"""

from __future__ import annotations

from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.references import relative
from fhircrm.fhir.store import FhirStore


async def read_reference(store: FhirStore, reference: str | None) -> dict | None:
    """The current content of the resource a relative reference (``Type/id``) names; None when there is no such
    reference (empty, absolute, versioned, local ``#id``) or no such resource (unknown, deleted)."""
    target = relative(reference or "")
    if target is None:
        return None
    try:
        return (await store.read(*target)).content
    except (NotFound, Gone):
        return None
