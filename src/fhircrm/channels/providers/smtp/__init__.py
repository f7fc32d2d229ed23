"""E-mail over SMTP (inbound e-mail arrives through the shared-secret parse webhook in ``channels.webhooks_web``)."""

from __future__ import annotations

from fhircrm.channels.providers.descriptor import Provider
from fhircrm.channels.providers.smtp.adapter import NAME, SmtpAdapter

PROVIDER = Provider(
    name=NAME,
    channels=frozenset({"email"}),
    configured=lambda settings, _channel: bool(settings.smtp_host and settings.smtp_from),
    build=lambda settings, _http: SmtpAdapter(settings),
)
