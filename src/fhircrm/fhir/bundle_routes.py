"""``POST /fhir``: transaction and batch Bundles (a thin handler over ``transactions`` and ``batch``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest
from fhircrm.fhir.batch import run_batch
from fhircrm.fhir.bundle_entries import BUNDLE_TYPES, parse_bundle
from fhircrm.fhir.negotiation import Prefer, base_url, check_format, read_resource
from fhircrm.fhir.openapi_bodies import resource_body
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.fhir.transactions import run_transaction

router = APIRouter()


@router.post("", summary="Transaction or batch Bundle", openapi_extra=resource_body("Bundle"))
@router.post("/", include_in_schema=False)
async def transaction_or_batch(request: Request, store: StoreDep, settings: SettingsDep) -> FhirResponse:
    check_format(request)
    body = await read_resource(request, max_bytes=settings.max_request_bytes)
    if body["resourceType"] != "Bundle":
        raise BadRequest(f"POST /fhir takes a Bundle, not a {body['resourceType'][:40]}", expression="resourceType")
    kind, entries = parse_bundle(body, max_entries=settings.max_bundle_entries)
    run = run_transaction if kind == "transaction" else run_batch
    answers = await run(store, entries, base=base_url(request), ret=Prefer.of(request).ret)
    bundle = {"resourceType": "Bundle", "type": BUNDLE_TYPES[kind], "entry": answers}
    return FhirResponse(bundle, 200, pretty=request.query_params.get("_pretty") == "true")
