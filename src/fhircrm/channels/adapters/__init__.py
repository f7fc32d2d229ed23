"""One adapter per provider, all behind ``fhircrm.channels.model.ChannelAdapter``."""

from __future__ import annotations

from fhircrm.channels.model import ChannelAdapter
from fhircrm.runtime import Runtime


def build_adapters(runtime: Runtime) -> dict[str, ChannelAdapter]:
    """Every provider name a Communication's delivery-provider extension can carry, with its adapter."""
    from fhircrm.channels.adapters.local import LocalAdapter
    from fhircrm.channels.adapters.meta_whatsapp import MetaWhatsAppAdapter
    from fhircrm.channels.adapters.smtp_email import SmtpAdapter
    from fhircrm.channels.adapters.twilio_messaging import TwilioMessagingAdapter
    from fhircrm.channels.adapters.twilio_voice import TwilioVoiceAdapter
    from fhircrm.channels.adapters.webchat import WebChatAdapter

    settings, http = runtime.settings, runtime.http
    return {
        "local": LocalAdapter(),
        "twilio": TwilioMessagingAdapter(settings, http),
        "twilio-voice": TwilioVoiceAdapter(settings, http),
        "meta": MetaWhatsAppAdapter(settings, http),
        "smtp": SmtpAdapter(settings),
        "webchat": WebChatAdapter(),
    }
