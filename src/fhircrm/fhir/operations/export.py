"""Bulk Data Access 2.0 ``$export`` kick-off: ``GET /fhir/$export`` (system), ``/fhir/Patient/$export`` and
``/fhir/Group/{id}/$export``.

The kick-off only checks and records: it answers 202 with the status URL (``fhircrm.fhir.operations.bulk_status``)
and the worker does the export in steps (``fhircrm.bulk.export``). Bulk Data asks for ``Prefer: respond-async``;
without it the answer is 400.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.bulk import export, jobs
from fhircrm.deps import StoreDep
from fhircrm.errors import BadRequest
from fhircrm.fhir.inputs import check_search_pairs
from fhircrm.fhir.negotiation import base_url, check_format
from fhircrm.fhir.outcomes import FhirResponse, information

router = APIRouter()


def require_async(request: Request) -> None:
    """Bulk operations run asynchronously only: the client must say it can wait."""
    prefer = [item.strip().lower() for item in request.headers.get("prefer", "").replace(";", ",").split(",")]
    if "respond-async" not in prefer:
        raise BadRequest("a bulk operation needs the header Prefer: respond-async", expression="Prefer")


def accepted(request: Request, job_id: str, message: str) -> FhirResponse:
    location = f"{base_url(request)}/$bulk-status/{job_id}"
    return FhirResponse(information(message), 202, {"Content-Location": location})


async def _kick_off(request: Request, store: StoreDep, level: str, group: str | None = None) -> FhirResponse:
    check_format(request)
    require_async(request)
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("_format", "_pretty")]
    check_search_pairs(pairs)
    parsed = export.parse(level, pairs, group)
    params, cursor = await export.plan(store, parsed)
    job_id = await jobs.create(
        store.conn,
        "export",
        jobs.caller(store.scope),
        str(request.url),
        params,
        cursor,
        at=export.transaction_time(),
    )
    return accepted(request, job_id, f"export of {len(params['types'])} resource type(s) accepted")


@router.get("/$export", summary="Bulk Data system-level $export (Prefer: respond-async)")
async def system_export(request: Request, store: StoreDep) -> FhirResponse:
    return await _kick_off(request, store, "system")


@router.get("/Patient/$export", summary="Bulk Data Patient-level $export (Prefer: respond-async)")
async def patient_export(request: Request, store: StoreDep) -> FhirResponse:
    return await _kick_off(request, store, "patient")


@router.get("/Group/{group_id}/$export", summary="Bulk Data Group $export (Prefer: respond-async)")
async def group_export(group_id: str, request: Request, store: StoreDep) -> FhirResponse:
    return await _kick_off(request, store, "group", group_id)
