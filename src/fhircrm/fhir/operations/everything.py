"""``Patient/{id}/$everything``: the patient and every resource in its Patient compartment.

Membership comes from the R4 Patient CompartmentDefinition (resource type -> the reference parameters that
link it to a patient), answered from the ``idx_reference`` rows those parameters already have: one indexed
query per page, no scan of the patient's resources in Python. The route, which applies the patient's consent,
is ``fhircrm.security.everything``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy as sa

from fhircrm.errors import NotFound
from fhircrm.fhir.resource_types import PATIENT_COMPARTMENT, RESOURCE_TYPE_SET
from fhircrm.fhir.search.registry import registry, sp_hash
from fhircrm.fhir.sql import reader
from fhircrm.fhir.sql.tables import idx_reference, resource
from fhircrm.fhir.store import FhirStore


@dataclass(frozen=True, slots=True)
class Page:
    resources: list[dict]
    has_next: bool
    count: int


@cache
def compartment_params() -> tuple[int, ...]:
    """The ``sp`` keys of every parameter that puts a resource in a patient's compartment."""
    return tuple(
        sp_hash(resource_type, code)
        for resource_type, codes in PATIENT_COMPARTMENT.items()
        for code in codes
        if registry().get(resource_type, code) is not None
    )


async def everything(
    store: FhirStore,
    patient_id: str,
    *,
    since: datetime | None = None,
    types: tuple[str, ...] = (),
    offset: int = 0,
    count: int | None = None,
    hidden_types: tuple[str, ...] = (),
) -> Page:
    """A page of the patient's compartment, the patient first, then by storage order (stable for paging)."""
    patient = await store.read("Patient", patient_id)
    for resource_type in types:
        if resource_type not in RESOURCE_TYPE_SET:
            raise NotFound(f"unknown resource type in _type: {resource_type[:64]}", expression="_type")
    limit = store._count(count)
    members = sa.select(idx_reference.c.res_pk).where(
        idx_reference.c.sp.in_(compartment_params()),
        idx_reference.c.target_type == "Patient",
        idx_reference.c.target_id == patient_id,
    )
    query = sa.select(resource.c.id).where(
        resource.c.deleted.is_(False), sa.or_(resource.c.id == patient.res_pk, resource.c.id.in_(members))
    )
    if types:
        query = query.where(resource.c.res_type.in_(types))
    if hidden_types:  # consent: an objecting patient's engagement data (fhircrm.security.consent)
        query = query.where(resource.c.res_type.not_in(hidden_types))
    if since is not None:
        query = query.where(resource.c.last_updated >= since)
    query = query.order_by(sa.case((resource.c.id == patient.res_pk, 0), else_=1), resource.c.id)
    pks = list((await store.conn.execute(query.offset(offset).limit(limit + 1))).scalars())
    contents = await reader.by_pks(store.conn, pks[:limit])
    # the compartment can hold types the caller's scopes (or the access table's operation column) do not cover:
    # those are left out, never leaked
    pairs = list(zip(pks[:limit], contents, strict=False))
    visible = [content for _, content in await store.visible("operation", pairs)]
    store.accessed.extend(visible)
    return Page(visible, len(pks) > limit, limit)
