"""Webhook signature checks: Twilio (HMAC-SHA1 over URL + sorted params), Meta (HMAC-SHA256 of the body),
and a shared secret for our own forms and inbound-parse e-mail. Constant-time comparisons throughout."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def twilio_signature(url: str, params: Iterable[tuple[str, str]], token: str) -> str:
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_valid(url: str, params: Iterable[tuple[str, str]], signature: str | None, token: str | None) -> bool:
    if not signature or not token:
        return False
    return hmac.compare_digest(twilio_signature(url, params, token).encode(), signature.encode())


def meta_signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def meta_valid(body: bytes, header: str | None, app_secret: str | None) -> bool:
    if not header or not app_secret:
        return False
    return hmac.compare_digest(meta_signature(body, app_secret).encode(), header.encode())


def secret_valid(provided: str | None, secret: str | None) -> bool:
    if not provided or not secret:
        return False
    return hmac.compare_digest(provided.encode(), secret.encode())
