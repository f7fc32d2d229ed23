"""The store's read side for Bulk Data export: one step of one type, in storage order, within the caller's access.

A step is the next ``limit`` live resources of a type after a primary key (the job's cursor), as the stored JSON
text: exports stream what the store holds without decoding and re-encoding each resource. What the caller may
search of the type (the store policy's restriction, as ``run_search`` applies it) bounds every step; a
``_typeFilter`` is compiled by the search compiler clients use; Patient and Group exports keep the resources
in the Patient compartment of the patients they name, through the compartment's reference index rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, Select

from fhircrm.errors import BadRequest, FhircrmError
from fhircrm.fhir.resource_types import PATIENT_COMPARTMENT
from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.search.registry import registry, sp_hash
from fhircrm.fhir.sql import search as sql_search
from fhircrm.fhir.sql.tables import idx_reference, resource
from fhircrm.fhir.store import FhirStore

#: the patients a Patient or Group export is about: a SELECT of Patient ids, or a list of them
Patients = Select | Sequence[str]


@dataclass(frozen=True, slots=True)
class Step:
    rows: list[tuple[int, str]]  # (pk, the resource as one line of JSON)

    @property
    def last(self) -> int | None:
        return self.rows[-1][0] if self.rows else None


def check_type_filter(resource_type: str, query: str) -> list[tuple[str, str]]:
    """A ``_typeFilter`` query as search pairs, refused (400, naming it) unless the search compiler takes it."""
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        raise BadRequest(f"_typeFilter {resource_type}? has no search parameters", expression="_typeFilter")
    try:
        search_query.parse(resource_type, pairs, strict=True)
    except FhircrmError as exc:
        raise BadRequest(f"_typeFilter for {resource_type}: {exc}", expression="_typeFilter") from None
    return pairs


def in_compartment(resource_type: str) -> bool:
    return resource_type == "Patient" or resource_type in PATIENT_COMPARTMENT


def reachable_patients(store: FhirStore) -> Select:
    """The ids of the live Patients the caller may search (a Patient-level export is about them)."""
    where: list[ColumnElement[bool]] = [resource.c.res_type == "Patient", resource.c.deleted.is_(False)]
    restrict = store.restriction("Patient")
    if restrict is not None:
        where.append(restrict)
    return sa.select(resource.c.fhir_id).where(*where)


async def reachable(store: FhirStore, patient_ids: Sequence[str]) -> list[str]:
    """Which of ``patient_ids`` are live Patients the caller may search (a Group export's members)."""
    if not patient_ids:
        return []
    query = reachable_patients(store).where(resource.c.fhir_id.in_(list(patient_ids)))
    return sorted(set((await store.conn.execute(query)).scalars()))


async def step(
    store: FhirStore,
    resource_type: str,
    *,
    after: int,
    limit: int,
    until: datetime,
    since: datetime | None = None,
    filters: Sequence[Sequence[tuple[str, str]]] = (),
    patients: Patients | None = None,
    hidden: Sequence[str] = (),
) -> Step:
    """The next ``limit`` resources of ``resource_type`` with a primary key above ``after`` that the caller may
    search, last updated in [since, until], matching one of ``filters`` (if any), in the compartment of one of
    ``patients`` (if given) and in none of the compartments of ``hidden`` (patients whose data of this type the
    caller may not have: a consent objection). Raises Forbidden when the caller may not search the type at all."""
    restrict = store.restriction(resource_type)
    where: list[ColumnElement[bool]] = [
        resource.c.res_type == resource_type,
        resource.c.deleted.is_(False),
        resource.c.id > after,
        resource.c.last_updated <= until,
    ]
    if restrict is not None:
        where.append(restrict)
    if since is not None:
        where.append(resource.c.last_updated >= since)
    if filters:
        compiled = [
            sql_search.compile_query(search_query.parse(resource_type, list(pairs), strict=True)) for pairs in filters
        ]
        where.append(sa.or_(*(resource.c.id.in_(pks) for pks in compiled)))
    if patients is not None:
        where.append(_compartment(resource_type, patients))
    if hidden:
        where.append(sa.not_(_compartment(resource_type, list(hidden))))
    query = (
        sa.select(resource.c.id, sa.cast(resource.c.content, sa.Text))
        .where(*where)
        .order_by(resource.c.id)
        .limit(limit)
    )
    rows = [(pk, text) for pk, text in await store.conn.execute(query)]
    return Step(rows)


def _compartment(resource_type: str, patients: Patients) -> ColumnElement[bool]:
    ids = patients if isinstance(patients, Select) else list(patients)
    if resource_type == "Patient":
        return resource.c.fhir_id.in_(ids)
    codes = [c for c in PATIENT_COMPARTMENT.get(resource_type, ()) if registry().get(resource_type, c) is not None]
    if not codes:
        return sa.false()
    members = sa.select(idx_reference.c.res_pk).where(
        idx_reference.c.sp.in_([sp_hash(resource_type, code) for code in codes]),
        idx_reference.c.target_type == "Patient",
        idx_reference.c.target_id.in_(ids),
        idx_reference.c.url.is_(None),
    )
    return resource.c.id.in_(members)
