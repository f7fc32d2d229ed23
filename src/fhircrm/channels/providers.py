"""Which provider delivers each channel under the current settings; ``local`` when none is configured."""

from __future__ import annotations

from fhircrm.config import Settings


def _twilio(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def provider_for(settings: Settings, channel: str) -> str:
    if channel == "sms" and _twilio(settings) and settings.twilio_sms_from:
        return "twilio"
    if channel == "whatsapp":
        if settings.meta_whatsapp_token and settings.meta_whatsapp_phone_number_id:
            return "meta"
        if _twilio(settings) and settings.twilio_whatsapp_from:
            return "twilio"
    if channel == "voice" and _twilio(settings) and settings.twilio_voice_from:
        return "twilio-voice"
    if channel == "email" and settings.smtp_host and settings.smtp_from:
        return "smtp"
    if channel == "webchat":
        return "webchat"
    return "local"
