"""``POST /fhir/$process-message``: a FHIR message Bundle processed synchronously (``fhircrm.messaging``).

The answer is the response message (200), whatever the message's outcome: its MessageHeader's
``response.code`` says ``ok``, ``fatal-error`` or ``transient-error``. A body that is no message is a 400
OperationOutcome; a sender without system access 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest
from fhircrm.fhir.negotiation import base_url, check_format, read_json
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.messaging.process import process

router = APIRouter()


@router.post("/$process-message", summary="Process a FHIR message (synchronously)")
async def process_message(request: Request, store: StoreDep, settings: SettingsDep) -> FhirResponse:
    check_format(request)
    if request.query_params.get("async") == "true":
        raise BadRequest("messages are processed synchronously only (async=true is not supported)", expression="async")
    body = await read_json(request, max_bytes=settings.max_request_bytes)
    processed = await process(store, body, base=base_url(request))  # type: ignore[arg-type]
    return FhirResponse(processed.response, 200, pretty=request.query_params.get("_pretty") == "true")
