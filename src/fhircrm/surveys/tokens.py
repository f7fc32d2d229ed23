"""Signed, expiring survey links: the token carries who is asked what, where; nobody can forge or reuse one
for another patient, and the public form needs no login."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

from fhircrm.config import Settings
from fhircrm.errors import Gone, NotFound

_DEV_KEY = "fhircrm-development-survey-key"


@dataclass(frozen=True, slots=True)
class Invitation:
    patient: str  # patient id
    questionnaire: str  # canonical URL
    touchpoint: str
    nonce: str
    expires: int  # epoch seconds
    about: tuple[str, ...] = ()


def _key(settings: Settings) -> bytes:
    secret = settings.surveys_secret or settings.channels_inbound_secret
    if secret is None:
        if settings.environment == "production":
            raise RuntimeError("FHIRCRM_SURVEYS_SECRET is required in production")
        return _DEV_KEY.encode()
    return secret.get_secret_value().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_nonce() -> str:
    return secrets.token_urlsafe(12)


def sign(invitation: Invitation, settings: Settings) -> str:
    payload = _b64(json.dumps(asdict(invitation), separators=(",", ":")).encode())
    mac = _b64(hmac.new(_key(settings), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{mac}"


def verify(token: str, settings: Settings, now: datetime) -> Invitation:
    """The invitation a token carries; NotFound when forged or malformed, Gone when expired."""
    payload, _, mac = token.partition(".")
    expected = _b64(hmac.new(_key(settings), payload.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise NotFound("unknown survey link")
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        invitation = Invitation(**{**data, "about": tuple(data.get("about", ()))})
    except (ValueError, TypeError) as exc:
        raise NotFound("unknown survey link") from exc
    if invitation.expires < now.timestamp():
        raise Gone("this survey link has expired")
    return invitation
