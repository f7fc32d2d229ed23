"""Which patients a rule selects, with FHIR searches only (so it runs the same on PostgreSQL and SQLite)."""

from __future__ import annotations

from datetime import date

from fhircrm.fhir.store import FhirStore
from fhircrm.segments.rules import PATIENT_PARAM, Clause, SegmentRule, expand

PAGE = 1000
_PATIENT_FIELDS = ("subject", "patient", "beneficiary")


def _patient_of(resource: dict) -> str | None:
    for name in _PATIENT_FIELDS:
        ref = (resource.get(name) or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref.split("/", 1)[1]
    for participant in resource.get("participant", []):
        ref = (participant.get("actor") or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref.split("/", 1)[1]
    return None


async def _collect(store: FhirStore, resource_type: str, params: list[tuple[str, str]]) -> set[str]:
    found: set[str] = set()
    offset = 0
    while True:
        page = await store.search(resource_type, [*params, ("_count", str(PAGE)), ("_offset", str(offset))])
        for match in page.matches:
            ident = match["id"] if resource_type == "Patient" else _patient_of(match)
            if ident:
                found.add(ident)
        if not page.has_next or not page.matches:
            return found
        offset += len(page.matches)


def _params(clause: Clause, today: date, patient: str | None) -> list[tuple[str, str]]:
    params = [(name, expand(value, today)) for name, value in clause.params]
    if patient:
        params.append(
            (
                PATIENT_PARAM[clause.resource_type],
                patient if clause.resource_type == "Patient" else f"Patient/{patient}",
            )
        )
    return params


async def evaluate(store: FhirStore, rule: SegmentRule, today: date, *, patient: str | None = None) -> set[str]:
    """Ids of the patients ``rule`` selects today (only among ``patient`` when given)."""
    patient_params = [p for c in rule.all if c.resource_type == "Patient" for p in c.params]
    base = Clause("Patient", tuple(patient_params))
    selected = await _collect(store, "Patient", _params(base, today, patient))
    for clause in rule.all:
        if clause.resource_type != "Patient" and selected:
            selected &= await _collect(store, clause.resource_type, _params(clause, today, patient))
    for clause in rule.none:
        if selected:
            selected -= await _collect(store, clause.resource_type, _params(clause, today, patient))
    return selected
