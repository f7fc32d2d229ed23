"""``POST /fhir/$import``: the Bulk Data import kick-off (ping and pull) for ndjson inputs named by URL.

Like ``$export``, it needs ``Prefer: respond-async``, answers 202 with the status URL
(``fhircrm.fhir.operations.bulk_status``) and leaves the work to the worker (``fhircrm.bulk.imports``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.bulk import export, imports, jobs
from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.fhir.negotiation import check_format, read_json
from fhircrm.fhir.operations.export import accepted, require_async
from fhircrm.fhir.outcomes import FhirResponse

router = APIRouter()


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
