"""The Twilio REST account both Twilio adapters (Messaging, Voice) talk to."""

from __future__ import annotations

from fhircrm.config import Settings


def account_url(settings: Settings, resource: str) -> str:
    """``Messages.json`` or ``Calls.json`` under the configured account."""
    base = settings.twilio_api_base.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{settings.twilio_account_sid}/{resource}"


def basic_auth(settings: Settings) -> tuple[str, str]:
    token = settings.twilio_auth_token
    return (settings.twilio_account_sid or "", token.get_secret_value() if token else "")
