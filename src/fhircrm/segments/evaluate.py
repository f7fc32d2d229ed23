"""Which patients a rule selects: each clause compiled by the FHIR search compiler (so it means exactly what the
same FHIR search means, on PostgreSQL and SQLite) and answered from the index tables as patient ids.

No resource is read or decoded: at 100k patients a rule like "no visit in 12 months" matches most of the
population, and loading those resources page by page is what made refreshing every segment take minutes.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.search.registry import sp_hash
from fhircrm.fhir.sql import search as sql_search
from fhircrm.fhir.sql.tables import idx_reference, resource
from fhircrm.fhir.store import FhirStore
from fhircrm.segments.rules import PATIENT_PARAM, Clause, SegmentRule, expand


async def _collect(store: FhirStore, resource_type: str, params: list[tuple[str, str]]) -> set[str]:
    """Ids of the patients the matches of a ``resource_type`` search name (through its patient parameter)."""
    query = search_query.parse(resource_type, params)
    branches = store.branches("search", resource_type)  # the caller's access, as a search of theirs would have
    restrict = None if branches is None else sql_search.restriction(resource_type, branches)
    matched = sql_search.compile_query(query, restrict=restrict)
    if resource_type == "Patient":
        statement = matched.with_only_columns(resource.c.fhir_id)
    else:
        statement = sa.select(idx_reference.c.target_id).where(
            idx_reference.c.res_pk.in_(matched),
            idx_reference.c.sp == sp_hash(resource_type, PATIENT_PARAM[resource_type]),
            idx_reference.c.target_type == "Patient",
            idx_reference.c.url.is_(None),  # a relative reference: a patient of this store
        )
    return set((await store.conn.execute(statement)).scalars())


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
