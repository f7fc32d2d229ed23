"""Twilio Voice: calls patients make to us, and the digit pressed on any call (ours or theirs).

An incoming call from a known number hears a menu in the patient's language ("1 to confirm your next
appointment, 2 to cancel it, 3 to ask for a call back"); the digit comes back to ``/voice/gather`` and is handled
like a text reply ("3" opens a contact-center callback Task). An unknown caller is told we will call back and
lands in the inbox for identification. Both webhooks need a valid ``X-Twilio-Signature``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, Request, Response

from fhircrm.channels import contacts
from fhircrm.channels.inbound import InboundMessage, match_sender, receive
from fhircrm.channels.providers.twilio.account import MESSAGING
from fhircrm.channels.providers.twilio.voice import voice_language
from fhircrm.channels.providers.twilio.webhooks import signed_form, twiml
from fhircrm.channels.templates import render
from fhircrm.channels.urls import public_url
from fhircrm.config import Settings
from fhircrm.deps import ServiceStoreDep
from fhircrm.fhir.store import FhirStore

router = APIRouter(prefix="/channels/twilio/voice", tags=["channels"])


async def _language(store: FhirStore, settings: Settings, patient_ref: str | None) -> str:
    if not patient_ref:
        return settings.channels_default_language
    patient = (await store.read("Patient", contacts.patient_id(patient_ref))).content or {}
    return contacts.language_of(patient, settings.channels_default_language)


def _say(settings: Settings, template: str, language: str, **context: str) -> str:
    rendered = render(template, context, language=language, default_language=settings.channels_default_language)
    return f'<Say language="{voice_language(rendered.language)}">{escape(rendered.text)}</Say>'


@router.post("/incoming", include_in_schema=False)
async def incoming_call(request: Request, store: ServiceStoreDep) -> Response:
    form = await signed_form(request)
    settings: Settings = request.app.state.settings
    caller = form.get("From", "")
    lookup = InboundMessage(channel="voice", provider=MESSAGING, provider_id="", address=caller, text="")
    patient = await match_sender(store, lookup)
    if patient is None:
        message = InboundMessage(
            channel="voice",
            provider=MESSAGING,
            provider_id=f"{form.get('CallSid', '')}:incoming",
            address=caller,
            text="Incoming call from a number we do not know: call back.",
        )
        await receive(store, settings, message)
        return twiml(_say(settings, "call-answer", settings.channels_default_language, outcome="unknown-caller"))
    language = await _language(store, settings, patient)
    action = quoteattr(public_url(settings, "/channels/twilio/voice/gather"))
    menu = _say(settings, "call-menu", language)
    goodbye = _say(settings, "call-answer", language, outcome="none")
    return twiml(f'<Gather numDigits="1" action={action} method="POST" timeout="8">{menu}</Gather>{goodbye}')


@router.post("/gather", include_in_schema=False)
async def voice_gather(request: Request, store: ServiceStoreDep) -> Response:
    """The digit pressed during a call: handled like a text reply (to that call's message, when it was ours)."""
    form = await signed_form(request)
    settings: Settings = request.app.state.settings
    outbound = form.get("Direction", "outbound-api").startswith("outbound")
    message = InboundMessage(
        channel="voice",
        provider=MESSAGING,
        provider_id=f"{form.get('CallSid', '')}:gather",
        address=form.get("To") if outbound else form.get("From"),
        text=form.get("Digits", ""),
        replied_to=request.query_params.get("communication"),
    )
    outcome = await receive(store, settings, message)
    language = await _language(store, settings, outcome.patient if outcome else None)
    said = str(outcome.intent) if outcome else "none"
    return twiml(_say(settings, "call-answer", language, outcome=said) + "<Hangup/>")
