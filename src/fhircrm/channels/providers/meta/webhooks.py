"""Meta WhatsApp Cloud API webhooks: the subscription handshake, inbound messages and status updates.

POSTs must carry ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app secret): otherwise 403 and
nothing is stored. Inbound messages are deduplicated by their ``wamid``.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from fhircrm.channels import receipts, signatures
from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.channels.providers.descriptor import SignedRequest, signed_request
from fhircrm.channels.providers.meta.adapter import NAME
from fhircrm.config import Settings
from fhircrm.deps import ServiceStoreDep

router = APIRouter(prefix="/channels/meta", tags=["channels"])

#: WhatsApp Cloud API message status words -> FHIR Communication.status
STATUSES = {"sent": "in-progress", "delivered": "completed", "read": "completed", "failed": "not-done"}


def signature_valid(settings: Settings, request: SignedRequest) -> bool:
    secret = settings.meta_app_secret.get_secret_value() if settings.meta_app_secret else None
    return signatures.meta_valid(request.body, request.headers.get("X-Hub-Signature-256"), secret)


@router.get("/webhook", include_in_schema=False)
async def verify(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    params = request.query_params
    token = settings.meta_verify_token.get_secret_value() if settings.meta_verify_token else None
    if params.get("hub.mode") != "subscribe" or not signatures.secret_valid(params.get("hub.verify_token"), token):
        raise HTTPException(403, "verification failed")
    return Response(params.get("hub.challenge", ""), media_type="text/plain")


@router.post("/webhook", include_in_schema=False)
async def notification(request: Request, store: ServiceStoreDep) -> dict:
    settings: Settings = request.app.state.settings
    body = (await signed_request(request, signature_valid)).body
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "body is not JSON") from None
    for entry in payload.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value") or {}
            for message in value.get("messages", []):
                text = (message.get("text") or {}).get("body") or (message.get("button") or {}).get("text") or ""
                inbound = InboundMessage(
                    channel="whatsapp",
                    provider=NAME,
                    provider_id=message.get("id", ""),
                    address="+" + message.get("from", "").lstrip("+"),
                    text=text,
                )
                if inbound.provider_id:
                    await receive(store, settings, inbound)
            for status in value.get("statuses", []):
                await receipts.record_receipt(
                    store,
                    NAME,
                    status.get("id", ""),
                    status.get("biz_opaque_callback_data"),
                    STATUSES.get(status.get("status", "")),
                )
    return {"ok": True}
