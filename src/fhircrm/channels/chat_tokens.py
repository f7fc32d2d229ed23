"""Web chat conversation tokens: what a widget holds instead of a guessable id.

A token names a random conversation (session) id, when it was issued, and an HMAC-SHA256 over both with our
secret, so only tokens we issued open a conversation's messages and stream. Every API process and replica must
accept the tokens any of them issued (the widget's requests land on whichever the load balancer picks), so the key
is ``channels_webchat_secret``, the same on every node; production refuses chat without it, and development uses a
fixed key (as survey links do), so ``fhircrm serve --workers N`` and several replicas agree there too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fhircrm.config import Settings

_DEV_KEY = b"fhircrm-development-webchat-key"
_PREFIX = "c1"


class NotConfigured(RuntimeError):
    """Production without ``channels_webchat_secret``: no token can be issued or checked."""


@dataclass(frozen=True, slots=True)
class Conversation:
    session: str  # the address of the chat's Communications (channel-address extension)
    issued: int  # unix seconds


def _key(settings: Settings) -> bytes:
    secret = settings.channels_webchat_secret
    if secret is not None:
        return secret.get_secret_value().encode()
    if settings.environment == "production":
        raise NotConfigured("FHIRCRM_CHANNELS_WEBCHAT_SECRET is required in production for web chat")
    return _DEV_KEY


def _mac(settings: Settings, body: str) -> str:
    digest = hmac.new(_key(settings), f"webchat:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_session() -> str:
    return secrets.token_urlsafe(24)


def issue(settings: Settings, session: str | None = None, *, now: float | None = None) -> tuple[str, Conversation]:
    conversation = Conversation(session or new_session(), int(now if now is not None else time.time()))
    body = f"{_PREFIX}.{conversation.session}.{conversation.issued}"
    return f"{body}.{_mac(settings, body)}", conversation


def verify(settings: Settings, token: str | None, *, now: float | None = None) -> Conversation | None:
    """The conversation a token opens; None when it is malformed, forged or expired."""
    if not token or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _PREFIX or not parts[2].isdigit():
        return None
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(settings, body).encode(), parts[3].encode()):
        return None
    issued = int(parts[2])
    age = (now if now is not None else time.time()) - issued
    if age < -300 or age > settings.channels_webchat_token_days * 86400:
        return None
    return Conversation(parts[1], issued)
