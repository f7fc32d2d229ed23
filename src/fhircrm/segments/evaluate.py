"""Which patients a rule selects: each clause a selection of the store's read side (``FhirStore.select``: it means
exactly what the same FHIR search means, on PostgreSQL and SQLite) answered from the index tables as patient ids.

No resource is read or decoded: at 100k patients a rule like "no visit in 12 months" matches most of the
population, and loading those resources page by page is what made refreshing every segment take minutes.
"""

from __future__ import annotations

from datetime import date

from fhircrm.fhir.store import FhirStore
from fhircrm.segments.rules import PATIENT_PARAM, Clause, SegmentRule, expand


async def _collect(store: FhirStore, resource_type: str, params: list[tuple[str, str]]) -> set[str]:
    """Ids of the patients the matches of a ``resource_type`` search name (through its patient parameter),
    within the caller's access, as a search of theirs would have it."""
    matched = store.select(resource_type, params)
    if resource_type == "Patient":
        return await matched.ids()
    return await matched.referenced(PATIENT_PARAM[resource_type], "Patient")  # this store's patients only


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
