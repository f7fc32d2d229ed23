"""Registered OAuth clients and the OAuth error an authorization server answers with (RFC 6749 section 5.2)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

AuthMethod = Literal["none", "client_secret_basic", "private_key_jwt"]


class OAuthError(Exception):
    """``{"error": ..., "error_description": ...}`` with its status (400, or 401 for invalid_client)."""

    def __init__(self, error: str, description: str, *, status: int | None = None):
        super().__init__(f"{error}: {description}")
        self.error, self.description = error, description
        self.status = status or (401 if error == "invalid_client" else 400)

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """A client known to the authorization server.

    ``none``: a public app (PKCE protects its codes); ``client_secret_basic``: a confidential app with a shared
    secret (kept hashed); ``private_key_jwt``: SMART backend services or confidential-asymmetric apps, which
    prove themselves with a JWT signed by a key in ``jwks`` (inline) or published at ``jwks_url``.
    """

    client_id: str
    auth_method: AuthMethod = "none"
    redirect_uris: tuple[str, ...] = ()
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    name: str = ""

    def secret_matches(self, secret: str) -> bool:
        return self.secret_hash is not None and hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def public_view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "client_id": self.client_id,
            "token_endpoint_auth_method": self.auth_method,
            "redirect_uris": list(self.redirect_uris),
        }
        if self.name:
            out["client_name"] = self.name
        if self.jwks_url:
            out["jwks_uri"] = self.jwks_url
        return out
