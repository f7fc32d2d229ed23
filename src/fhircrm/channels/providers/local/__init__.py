"""The local fallback: last in the provider list, it takes every channel no other provider is configured for."""

from __future__ import annotations

from fhircrm.channels.providers.descriptor import Provider
from fhircrm.channels.providers.local.adapter import NAME, RecordedAdapter

PROVIDER = Provider(
    name=NAME,
    channels=None,
    configured=lambda _settings, _channel: True,
    build=lambda _settings, _http: RecordedAdapter(),
)
