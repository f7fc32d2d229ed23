"""What one channel provider is: the descriptor every provider package exports, and the signed-webhook check.

Everything the rest of the server needs from a provider is here, so a new provider is one package that builds a
``Provider`` (see ``fhircrm.channels.providers`` for the list that reads them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
from fastapi import APIRouter, HTTPException, Request

from fhircrm.channels.model import ChannelAdapter
from fhircrm.channels.urls import public_root
from fhircrm.config import Settings


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A webhook request as a signature sees it: our public URL for it, its headers, raw body and form fields."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    form: list[tuple[str, str]]


#: Does the request carry a valid signature under these settings (no secret configured: never)?
SignatureCheck = Callable[[Settings, SignedRequest], bool]


@dataclass(frozen=True, slots=True)
class Provider:
    name: str  # stored on each Communication (delivery-provider extension, provider-id identifier)
    channels: frozenset[str] | None  # the channels it can deliver; None: any (the local fallback)
    configured: Callable[[Settings, str], bool]  # can it deliver this channel under these settings?
    build: Callable[[Settings, httpx.AsyncClient], ChannelAdapter]
    router: APIRouter | None = None  # its webhooks, mounted whether configured or not (unsigned requests get 403)
    statuses: Mapping[str, str] = field(default_factory=dict)  # its status words -> FHIR Communication.status
    signature_valid: SignatureCheck | None = None

    def serves(self, settings: Settings, channel: str) -> bool:
        return (self.channels is None or channel in self.channels) and self.configured(settings, channel)


def options(settings: Settings, provider: str) -> dict[str, str]:
    """An added provider's own settings (``channel_provider_options[provider]``), unwrapped."""
    return {k: v.get_secret_value() for k, v in settings.channel_provider_options.get(provider, {}).items()}


async def signed_request(request: Request, check: SignatureCheck) -> SignedRequest:
    """The request when ``check`` accepts its signature; otherwise 403 before anything is read or stored."""
    settings: Settings = request.app.state.settings
    body = await request.body()
    form = [(k, str(v)) for k, v in (await request.form()).multi_items()]
    url = public_root(settings) + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    signed = SignedRequest(url, request.headers, body, form)
    if not check(settings, signed):
        raise HTTPException(403, "invalid signature")
    return signed
