"""The status and files of a bulk job (``$export``, ``$import``): ``GET``/``DELETE /fhir/$bulk-status/{id}``
and ``GET /fhir/$bulk-files/{id}/{file}``.

Only the client that kicked a job off sees it (anyone else: 404). While it runs: 202 with ``X-Progress`` and
``Retry-After``; done: 200 and the manifest; failed: 500 and an OperationOutcome saying why (PHI-free).
``DELETE`` cancels it and drops its files (202). Files are ndjson, served to the same caller's access token
(``requiresAccessToken: true``) and audited with the resources they hold.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from fhircrm.bulk import jobs
from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import Issue
from fhircrm.fhir.negotiation import base_url
from fhircrm.fhir.outcomes import FhirResponse, information, operation_outcome

router = APIRouter()


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
