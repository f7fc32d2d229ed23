"""This server's public URL, for the webhook addresses we hand to providers."""

from __future__ import annotations

from fhircrm.config import Settings


def public_root(settings: Settings) -> str:
    if settings.channels_public_url:
        return settings.channels_public_url.rstrip("/")
    return settings.base_url.rstrip("/").removesuffix("/fhir")


def public_url(settings: Settings, path: str) -> str:
    return public_root(settings) + path
