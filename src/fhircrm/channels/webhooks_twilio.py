"""Twilio webhooks: inbound SMS/WhatsApp and delivery status callbacks (voice calls: ``webhooks_voice``).

Every request must carry a valid ``X-Twilio-Signature`` (HMAC-SHA1 over our public URL and the sorted form
parameters); otherwise 403 and nothing is stored. Replays are ignored by MessageSid.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from fhircrm.channels import markers, receipts, signatures
from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.channels.urls import public_root
from fhircrm.config import Settings
from fhircrm.deps import ServiceStoreDep
from fhircrm.fhir.store import FhirStore

router = APIRouter(prefix="/channels/twilio", tags=["channels"])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def signed_form(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    form = await request.form()
    params = [(k, str(v)) for k, v in form.multi_items()]
    url = public_root(settings) + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    if not signatures.twilio_valid(url, params, request.headers.get("X-Twilio-Signature"), token):
        raise HTTPException(403, "invalid Twilio signature")
    return dict(params)


def twiml(body: str = "") -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', media_type="text/xml")


@router.post("/messages", include_in_schema=False)
async def inbound_message(request: Request, store: ServiceStoreDep) -> Response:
    form = await signed_form(request)
    sender = form.get("From", "")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    message = InboundMessage(
        channel=channel,
        provider="twilio",
        provider_id=form.get("MessageSid") or form.get("SmsSid") or "",
        address=sender.removeprefix("whatsapp:"),
        text=form.get("Body", ""),
    )
    if not message.provider_id:
        raise HTTPException(400, "MessageSid is required")
    await receive(store, request.app.state.settings, message)
    return twiml()


async def communication_for_callback(store: FhirStore, provider: str, sid: str, attempt: str | None) -> dict | None:
    """By provider id; or, when the callback beats our own commit (or the sender died), by the attempt id."""
    comm = await receipts.by_provider_id(store, provider, sid)
    if comm is not None or not attempt:
        return comm
    communication_id = await markers.communication_of_attempt(store.conn, attempt)
    if communication_id is None:
        return None
    await markers.sent_by_attempt(store.conn, attempt, sid)
    comm = (await store.read("Communication", communication_id)).content
    if comm and comm.get("status") == "preparation":
        comm = await receipts.record_accepted(store, comm, provider, receipts.SendResult(sid))
    return comm


@router.post("/status", include_in_schema=False)
async def status_callback(request: Request, store: ServiceStoreDep) -> Response:
    form = await signed_form(request)
    if form.get("CallSid") and not form.get("MessageSid"):
        provider, sid, status = "twilio-voice", form["CallSid"], form.get("CallStatus", "")
    else:
        provider, sid, status = "twilio", form.get("MessageSid", ""), form.get("MessageStatus", "")
    comm = await communication_for_callback(store, provider, sid, request.query_params.get("attempt"))
    fhir_status = receipts.PROVIDER_STATUS.get(status)
    if comm is not None and fhir_status:
        reason = "undeliverable" if fhir_status == "not-done" else None
        await receipts.record_status(store, comm, fhir_status, reason=reason)
    return twiml()
