"""Every channel provider, in one ordered list: it feeds the delivery adapters, the provider chosen for each
channel, the webhook routes and the admin page.

Adding a provider means one package beside these (exporting a ``descriptor.Provider``) and one line in
``BUILT_IN``; an operator (or a test) can put more in front with the ``channel_providers`` setting. Both lists
name descriptors by import path and load them on first use: a provider's webhooks take messages in, and taking
a message in can queue one out, which asks this list, so nothing here imports a provider at import time.
"""

from __future__ import annotations

from fastapi import APIRouter

from fhircrm.channels.model import ChannelAdapter
from fhircrm.channels.named import load
from fhircrm.channels.providers.descriptor import Provider
from fhircrm.config import Settings
from fhircrm.runtime import Runtime

#: The first configured provider that serves a channel delivers it (WhatsApp: Meta before Twilio); ``local`` is
#: last and takes whatever no other provider is configured for.
BUILT_IN = (
    "fhircrm.channels.providers.meta:PROVIDER",
    "fhircrm.channels.providers.twilio:MESSAGING",
    "fhircrm.channels.providers.twilio:VOICE",
    "fhircrm.channels.providers.smtp:PROVIDER",
    "fhircrm.channels.providers.webchat:PROVIDER",
    "fhircrm.channels.providers.local:PROVIDER",
)


def providers(settings: Settings) -> tuple[Provider, ...]:
    """The settings' added providers, then ours."""
    return tuple(load(path, Provider, "PROVIDER") for path in (*settings.channel_providers, *BUILT_IN))


def provider_for(settings: Settings, channel: str) -> str:
    """The provider that delivers ``channel`` under ``settings``: ``local`` when none is configured."""
    return next(p.name for p in providers(settings) if p.serves(settings, channel))


def build_adapters(runtime: Runtime) -> dict[str, ChannelAdapter]:
    """Every provider name a Communication's delivery-provider extension can carry, with its adapter."""
    return {p.name: p.build(runtime.settings, runtime.http) for p in providers(runtime.settings)}


def routers(settings: Settings) -> list[APIRouter]:
    return [p.router for p in providers(settings) if p.router is not None]
