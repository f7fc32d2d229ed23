"""``Patient/{id}/$everything``: the patient and every resource in its Patient compartment.

Membership comes from the R4 Patient CompartmentDefinition (resource type -> the reference parameters that
link it to a patient), answered from the ``idx_reference`` rows those parameters already have: one indexed
query per page, no scan of the patient's resources in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from fastapi import APIRouter, Request

from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest, NotFound
from fhircrm.fhir import bundles
from fhircrm.fhir.negotiation import base_url, check_format, read_json
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.fhir.resource_types import PATIENT_COMPARTMENT, RESOURCE_TYPE_SET
from fhircrm.fhir.search.dates import InvalidDate, date_range
from fhircrm.fhir.search.registry import registry, sp_hash
from fhircrm.fhir.sql import reader
from fhircrm.fhir.sql.tables import idx_reference, resource
from fhircrm.fhir.store import FhirStore
from fhircrm.security.consent import hidden_from_export
from fhircrm.smart import AccessDep

router = APIRouter()


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


# --- the route ------------------------------------------------------------------------------------------------


@router.api_route("/Patient/{patient_id}/$everything", methods=["GET", "POST"], summary="Patient $everything")
async def patient_everything(
    patient_id: str, request: Request, store: StoreDep, settings: SettingsDep, access: AccessDep
) -> FhirResponse:
    check_format(request)
    params = dict(request.query_params)
    if request.method == "POST" and request.headers.get("content-length", "0") != "0":
        params.update(_parameters(await read_json(request, max_bytes=settings.max_request_bytes)))
    since = _since(params.get("_since"))
    types = tuple(t.strip() for t in params.get("_type", "").split(",") if t.strip())
    offset, count = _whole(params, "_offset") or 0, _whole(params, "_count")
    hidden = await hidden_from_export(store, settings, patient_id, access)
    page = await everything(
        store, patient_id, since=since, types=types, offset=offset, count=count, hidden_types=hidden
    )
    pairs = [(k, params[k]) for k in ("_since", "_type") if k in params]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": bundles.paging_links(
            base_url(request),
            f"Patient/{patient_id}/$everything",
            pairs,
            offset=offset,
            count=page.count,
            has_next=page.has_next,
        ),
        "entry": [
            {
                "fullUrl": f"{base_url(request)}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in page.resources
        ],
    }
    if offset == 0 and not page.has_next:
        bundle["total"] = len(page.resources)
    return FhirResponse(bundle, pretty=params.get("_pretty") == "true")


def _parameters(body: object) -> dict[str, str]:
    """The operation's parameters from a POSTed Parameters resource (``_since``, ``_type``, ``_count``)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("POST $everything takes a Parameters resource", expression="resourceType")
    out: dict[str, str] = {}
    for item in body.get("parameter") or []:
        if not isinstance(item, dict):
            continue
        value = next((v for k, v in item.items() if k.startswith("value")), None)
        if isinstance(item.get("name"), str) and value is not None:
            name = item["name"]
            out[name] = f"{out[name]},{value}" if name == "_type" and name in out else str(value)
    return out


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return date_range(value)[0]
    except InvalidDate:
        raise BadRequest("_since must be a FHIR instant", expression="_since") from None


def _whole(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    value = params[name]
    if not value.isdigit():
        raise BadRequest(f"{name} must be a whole number", expression=name)
    return int(value)
