"""Bulk Data Access 2.0 over HTTP: the ``$export`` and ``$import`` kick-offs and the status and files of a job.

Kick-off: ``GET /fhir/$export`` (system), ``/fhir/Patient/$export``, ``/fhir/Group/{id}/$export`` and
``POST /fhir/$import`` (ping and pull, ndjson inputs named by URL) only check and record: they answer 202 with the
status URL and the worker does the work in steps (``fhircrm.bulk.export``, ``fhircrm.bulk.imports``). Bulk Data
asks for ``Prefer: respond-async``; without it the answer is 400.

Status: ``GET``/``DELETE /fhir/$bulk-status/{id}`` and ``GET /fhir/$bulk-files/{id}/{file}``. Only the client that
kicked a job off sees it (anyone else: 404). While it runs: 202 with ``X-Progress`` and ``Retry-After``; done: 200
and the manifest; failed: 500 and an OperationOutcome saying why (PHI-free). ``DELETE`` cancels it and drops its
files (202). Files are ndjson, served to the same caller's access token (``requiresAccessToken: true``) and audited
with the resources they hold.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from fhircrm.bulk import export, imports, jobs
from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest, Issue
from fhircrm.fhir.capability import BULK_DATA
from fhircrm.fhir.inputs import check_search_pairs
from fhircrm.fhir.negotiation import base_url, check_format, read_json
from fhircrm.fhir.operations import Operations
from fhircrm.fhir.outcomes import FhirResponse, information, operation_outcome

router = APIRouter()
#: Bulk Data 2.0 defines no import operation: ours takes its inputs as the Bulk Data import proposal does.
OPERATIONS = Operations(
    router,
    tag="Bulk Data",
    system=(
        ("export", f"{BULK_DATA}/OperationDefinition/export"),
        ("import", "http://fhircrm.org/fhir/OperationDefinition/import"),
    ),
    by_type={
        "Patient": (("export", f"{BULK_DATA}/OperationDefinition/patient-export"),),
        "Group": (("export", f"{BULK_DATA}/OperationDefinition/group-export"),),
    },
)


def require_async(request: Request) -> None:
    """Bulk operations run asynchronously only: the client must say it can wait."""
    prefer = [item.strip().lower() for item in request.headers.get("prefer", "").replace(";", ",").split(",")]
    if "respond-async" not in prefer:
        raise BadRequest("a bulk operation needs the header Prefer: respond-async", expression="Prefer")


def accepted(request: Request, job_id: str, message: str) -> FhirResponse:
    location = f"{base_url(request)}/$bulk-status/{job_id}"
    return FhirResponse(information(message), 202, {"Content-Location": location})


# --- kick-off -------------------------------------------------------------------------------------------------


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


@router.post("/$import", summary="Bulk Data $import kick-off (Prefer: respond-async)")
async def bulk_import(request: Request, store: StoreDep, settings: SettingsDep) -> FhirResponse:
    check_format(request)
    require_async(request)
    inputs = imports.inputs_of(await read_json(request, max_bytes=settings.max_request_bytes))
    params, cursor = await imports.plan(store, settings, inputs)
    job_id = await jobs.create(
        store.conn, "import", jobs.caller(store.scope), str(request.url), params, cursor, at=export.transaction_time()
    )
    return accepted(request, job_id, f"import of {len(inputs)} input(s) accepted")


# --- status and files -----------------------------------------------------------------------------------------


@router.get("/$bulk-status/{job_id}", summary="Bulk job status (202 while running, 200 with the manifest)")
async def bulk_status(job_id: str, request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    job = await jobs.owned(store.conn, job_id, store.scope)
    if job.status == "running":
        what = "exported" if job.kind == "export" else "imported"
        headers = {
            "X-Progress": f"{job.done_count} resources {what}",
            "Retry-After": str(settings.bulk_retry_after_seconds),
        }
        return FhirResponse(information(f"in progress: {job.done_count} resources {what}"), 202, headers)
    if job.status == "failed":
        issue = Issue(f"the bulk {job.kind} failed: {job.error}", code="exception")
        return FhirResponse(operation_outcome([issue]), 500)
    body = await jobs.manifest(store.conn, job, base_url(request))
    expires = job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT") if job.expires_at else None
    return Response(orjson.dumps(body), 200, {"Expires": expires} if expires else {}, media_type="application/json")


@router.delete("/$bulk-status/{job_id}", summary="Cancel a bulk job (its files are dropped)")
async def bulk_cancel(job_id: str, store: StoreDep) -> FhirResponse:
    job = await jobs.owned(store.conn, job_id, store.scope)
    await jobs.cancel(store.conn, job)
    return FhirResponse(information(f"bulk {job.kind} cancelled"), 202)


@router.get("/$bulk-files/{job_id}/{file_id}", summary="One ndjson file of a bulk job")
async def bulk_file(job_id: str, file_id: str, store: StoreDep) -> Response:
    job = await jobs.owned(store.conn, job_id, store.scope)
    content = await jobs.read_file(
        store.conn, job, int(file_id) if file_id.isascii() and file_id.isdigit() and len(file_id) < 18 else -1
    )
    # the audit record names what the file holds, as for a search page
    store.accessed.extend(orjson.loads(line) for line in content.splitlines() if line)
    return Response(content, 200, media_type=jobs.NDJSON)
