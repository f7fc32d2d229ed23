"""``POST /fhir/$process-message``: a FHIR message Bundle processed synchronously (``fhircrm.messaging.process``).

The answer is the response message (200), whatever the message's outcome: its MessageHeader's
``response.code`` says ``ok``, ``fatal-error`` or ``transient-error``. A body that is no message is a 400
OperationOutcome; a sender without system access 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest
from fhircrm.fhir.negotiation import base_url, check_format, read_json
from fhircrm.fhir.operations import Operations
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.messaging import events as message_events
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


def messaging(base: str) -> list[dict]:
    """What ``$process-message`` receives (fhircrm.messaging): one supported message per event, and every event
    coding accepted (ours and the HL7 v2 trigger events) as an extension, since R4 has no element for them."""
    return [
        {
            "endpoint": [
                {
                    "protocol": {"system": "http://terminology.hl7.org/CodeSystem/message-transport", "code": "http"},
                    "address": f"{base}/$process-message",
                }
            ],
            "documentation": "Synchronous $process-message from system clients; idempotent on the MessageHeader id",
            "supportedMessage": [
                {"mode": "receiver", "definition": f"http://fhircrm.org/fhir/MessageDefinition/{event.code}"}
                for event in message_events.EVENTS
            ],
            "extension": [
                {"url": "http://fhircrm.org/fhir/StructureDefinition/supported-message-event", "valueCoding": coding}
                for coding in message_events.supported_codings()
            ],
        }
    ]


OPERATIONS = Operations(
    router,
    system=(("process-message", "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"),),
    messaging=messaging,
)
