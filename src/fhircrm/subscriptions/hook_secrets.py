"""The secret header each of our EHR Subscriptions carries, and its check.

Each Subscription gets its own secret, derived from ``ehr_notification_secret`` and its name (HMAC-SHA256), so
nothing needs storing and one leaked header opens only one endpoint. Without a configured master secret the
listener refuses everything.
"""

from __future__ import annotations

import hashlib
import hmac

from fhircrm.config import Settings


def secret_for(settings: Settings, name: str) -> str:
    if settings.ehr_notification_secret is None:
        raise ValueError("FHIRCRM_EHR_NOTIFICATION_SECRET is not set")
    master = settings.ehr_notification_secret.get_secret_value().encode()
    return hmac.new(master, f"ehr-subscription:{name}".encode(), hashlib.sha256).hexdigest()[:40]


def header_for(settings: Settings, name: str) -> str:
    """The ``Subscription.channel.header`` entry (``Name: value``)."""
    return f"{settings.ehr_notification_header}: {secret_for(settings, name)}"


def is_valid(settings: Settings, name: str, presented: str | None) -> bool:
    if settings.ehr_notification_secret is None or not presented:
        return False
    return hmac.compare_digest(presented.encode(), secret_for(settings, name).encode())
