"""Confirmation calls through Twilio Voice: the call reads the message and gathers one digit.

"1 to confirm, 2 to cancel, 3 to talk to someone": Twilio posts the digit to our gather webhook, which
handles it like a text reply (and "3" opens a contact-center Task).
"""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

import httpx

from fhircrm.channels.model import OutboundMessage, Reconciled, Reconciliation, SendResult
from fhircrm.channels.providers.twilio.account import VOICE, TwilioAccount
from fhircrm.channels.urls import public_url
from fhircrm.config import Settings

_VOICE_LANGUAGE = {"en": "en-US", "es": "es-US", "pt": "pt-BR"}


def voice_language(language: str) -> str:
    """The Twilio <Say> language for a patient's language tag."""
    return _VOICE_LANGUAGE.get(language.split("-")[0], "en-US")


def gather_twiml(settings: Settings, message: OutboundMessage) -> str:
    action = public_url(settings, f"/channels/twilio/voice/gather?communication={message.communication_id}")
    language = voice_language(message.language)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f'<Gather numDigits="1" action={quoteattr(action)} method="POST" timeout="8">'
        f'<Say language="{language}">{escape(message.text)}</Say></Gather>'
        f'<Say language="{language}">{escape(_goodbye(message.language))}</Say></Response>'
    )


def _goodbye(language: str) -> str:
    return "No le escuchamos. Adiós." if language.startswith("es") else "We did not hear a choice. Goodbye."


class TwilioVoiceAdapter:
    provider = VOICE

    def __init__(self, settings: Settings, http: httpx.AsyncClient):
        self.settings = settings
        self.account = TwilioAccount(settings, http)

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult:
        form = {
            "To": message.address,
            "From": self.settings.twilio_voice_from or "",
            "Twiml": gather_twiml(self.settings, message),
            "StatusCallback": public_url(self.settings, f"/channels/twilio/status?attempt={attempt_id}"),
        }
        data = await self.account.create("Calls.json", form)
        return SendResult(provider_id=data.get("sid"), status="in-progress")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        params = {"To": message.address, "StartTime>": since.date().isoformat(), "PageSize": "50"}
        calls = (await self.account.list("Calls.json", params)).get("calls", [])
        if calls:
            return Reconciliation(Reconciled.SENT, calls[0].get("sid"))
        return Reconciliation(Reconciled.NOT_SENT)
