"""Web chat on our own site: always available, delivered by being in the thread the widget streams."""

from __future__ import annotations

from fhircrm.channels.providers.descriptor import Provider
from fhircrm.channels.providers.local.adapter import RecordedAdapter
from fhircrm.channels.providers.webchat import routes
from fhircrm.channels.providers.webchat.routes import NAME

PROVIDER = Provider(
    name=NAME,
    channels=frozenset({"webchat"}),
    configured=lambda _settings, _channel: True,
    build=lambda _settings, _http: RecordedAdapter(NAME),
    router=routes.router,
)
