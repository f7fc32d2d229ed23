"""Meta's WhatsApp Cloud API: WhatsApp, preferred over Twilio's WhatsApp when both are configured."""

from __future__ import annotations

from fhircrm.channels.providers.descriptor import Provider
from fhircrm.channels.providers.meta import adapter, webhooks

PROVIDER = Provider(
    name=adapter.NAME,
    channels=frozenset({"whatsapp"}),
    configured=lambda settings, _channel: adapter.configured(settings),
    build=adapter.MetaWhatsAppAdapter,
    router=webhooks.router,
    statuses=webhooks.STATUSES,
    signature_valid=webhooks.signature_valid,
)
