"""Twilio: SMS and WhatsApp through Messaging, confirmation calls through Voice, one account and one signature."""

from __future__ import annotations

from fhircrm.channels.providers.descriptor import Provider
from fhircrm.channels.providers.twilio import account, voice_webhooks, webhooks
from fhircrm.channels.providers.twilio.messaging import TwilioMessagingAdapter
from fhircrm.channels.providers.twilio.voice import TwilioVoiceAdapter
from fhircrm.config import Settings


def _messaging_configured(settings: Settings, channel: str) -> bool:
    sender = settings.twilio_whatsapp_from if channel == "whatsapp" else settings.twilio_sms_from
    return account.configured(settings) and bool(sender)


MESSAGING = Provider(
    name=account.MESSAGING,
    channels=frozenset({"sms", "whatsapp"}),
    configured=_messaging_configured,
    build=TwilioMessagingAdapter,
    router=webhooks.router,
    statuses=webhooks.STATUSES,
    signature_valid=webhooks.signature_valid,
)
VOICE = Provider(
    name=account.VOICE,
    channels=frozenset({"voice"}),
    configured=lambda settings, _channel: account.configured(settings) and bool(settings.twilio_voice_from),
    build=TwilioVoiceAdapter,
    router=voice_webhooks.router,
    statuses=webhooks.STATUSES,
    signature_valid=webhooks.signature_valid,
)
