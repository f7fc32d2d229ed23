"""Twilio webhooks: inbound SMS/WhatsApp and delivery status callbacks (voice calls: ``voice_webhooks``).

Every request must carry a valid ``X-Twilio-Signature`` (HMAC-SHA1 over our public URL and the sorted form
parameters); otherwise 403 and nothing is stored. Replays are ignored by MessageSid.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from fhircrm.channels import receipts, signatures
from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.channels.providers.descriptor import SignedRequest, signed_request
from fhircrm.channels.providers.twilio.account import MESSAGING, VOICE
from fhircrm.config import Settings
from fhircrm.deps import ServiceStoreDep

router = APIRouter(prefix="/channels/twilio", tags=["channels"])

#: Twilio's message and call status words -> FHIR Communication.status
STATUSES = {
    "accepted": "in-progress",
    "queued": "in-progress",
    "sending": "in-progress",
    "sent": "in-progress",
    "initiated": "in-progress",
    "ringing": "in-progress",
    "in-progress": "in-progress",
    "delivered": "completed",
    "read": "completed",
    "completed": "completed",
    "received": "completed",
    "failed": "not-done",
    "undelivered": "not-done",
    "busy": "not-done",
    "no-answer": "not-done",
    "canceled": "not-done",
}


def signature_valid(settings: Settings, request: SignedRequest) -> bool:
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    return signatures.twilio_valid(request.url, request.form, request.headers.get("X-Twilio-Signature"), token)


async def signed_form(request: Request) -> dict[str, str]:
    return dict((await signed_request(request, signature_valid)).form)


def twiml(body: str = "") -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', media_type="text/xml")


@router.post("/messages", include_in_schema=False)
async def inbound_message(request: Request, store: ServiceStoreDep) -> Response:
    form = await signed_form(request)
    sender = form.get("From", "")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    message = InboundMessage(
        channel=channel,
        provider=MESSAGING,
        provider_id=form.get("MessageSid") or form.get("SmsSid") or "",
        address=sender.removeprefix("whatsapp:"),
        text=form.get("Body", ""),
    )
    if not message.provider_id:
        raise HTTPException(400, "MessageSid is required")
    await receive(store, request.app.state.settings, message)
    return twiml()


@router.post("/status", include_in_schema=False)
async def status_callback(request: Request, store: ServiceStoreDep) -> Response:
    form = await signed_form(request)
    if form.get("CallSid") and not form.get("MessageSid"):
        provider, sid, status = VOICE, form["CallSid"], form.get("CallStatus", "")
    else:
        provider, sid, status = MESSAGING, form.get("MessageSid", ""), form.get("MessageStatus", "")
    await receipts.record_receipt(store, provider, sid, request.query_params.get("attempt"), STATUSES.get(status))
    return twiml()
