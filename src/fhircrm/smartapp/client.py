"""The OAuth side of a launch: discovery, the authorization URL with PKCE S256, code exchange and refresh.

Every failure is a ``LaunchRefused`` with a short reason meant for the person launching (never a token).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

TIMEOUT = 10.0


class LaunchRefused(Exception):
    """The launch cannot go on; ``str(exc)`` says why, in words a user can act on."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    iss: str  # the FHIR base URL (also the ``aud`` we ask tokens for)
    authorize: str
    token: str
    issuer: str | None
    jwks_uri: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): 64 random URL-safe characters and BASE64URL(SHA256(verifier))."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def discover(http: httpx.AsyncClient, iss: str) -> ServerConfig:
    url = f"{iss.rstrip('/')}/.well-known/smart-configuration"
    try:
        response = await http.get(url, headers={"Accept": "application/json"}, timeout=TIMEOUT)
        document = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        document = None
    if (
        not isinstance(document, dict)
        or not document.get("authorization_endpoint")
        or not document.get("token_endpoint")
    ):
        raise LaunchRefused("the FHIR server does not publish a usable SMART configuration")
    if "S256" not in document.get("code_challenge_methods_supported", ["S256"]):
        raise LaunchRefused("the authorization server does not support PKCE S256")
    return ServerConfig(
        iss=iss.rstrip("/"),
        authorize=document["authorization_endpoint"],
        token=document["token_endpoint"],
        issuer=document.get("issuer"),
        jwks_uri=document.get("jwks_uri"),
    )


def authorize_url(
    config: ServerConfig, *, client_id: str, redirect_uri: str, scope: str, state: str, challenge: str, launch: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "aud": config.iss,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if launch:
        params["launch"] = launch
    separator = "&" if "?" in config.authorize else "?"
    return f"{config.authorize}{separator}{urlencode(params)}"


async def _token_call(http: httpx.AsyncClient, url: str, form: dict[str, str]) -> dict[str, Any]:
    try:
        response = await http.post(url, data=form, headers={"Accept": "application/json"}, timeout=TIMEOUT)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise LaunchRefused("the authorization server did not answer") from exc
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        error = body.get("error", "error") if isinstance(body, dict) else "error"
        raise LaunchRefused(f"the authorization server refused the token request ({error})")
    if str(body.get("token_type", "")).lower() != "bearer":
        raise LaunchRefused("the authorization server returned an unusable token type")
    return body


async def exchange_code(
    http: httpx.AsyncClient, config: ServerConfig, *, code: str, verifier: str, redirect_uri: str, client_id: str
) -> dict[str, Any]:
    """The token response for an authorization code; refuses to even ask without the PKCE verifier."""
    if not verifier:
        raise LaunchRefused("the launch has no PKCE verifier: start the launch again")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    return await _token_call(http, config.token, form)


async def refresh(http: httpx.AsyncClient, token_url: str, *, refresh_token: str, client_id: str) -> dict[str, Any]:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return await _token_call(http, token_url, form)


async def verified_id_claims(
    http: httpx.AsyncClient, config: ServerConfig, id_token: str, *, client_id: str
) -> dict[str, Any]:
    """The id_token's claims after checking its signature (issuer's JWKS), ``iss``, ``aud`` and expiry."""
    if not config.jwks_uri:
        raise LaunchRefused("the authorization server publishes no keys to check the id_token")
    try:
        keys = KeySet.import_key_set((await http.get(config.jwks_uri, timeout=TIMEOUT)).json())
        claims = jwt.decode(id_token, keys, algorithms=["RS256", "RS384", "ES256", "ES384"]).claims
    except (httpx.HTTPError, ValueError, JoseError) as exc:
        raise LaunchRefused("the id_token could not be verified") from exc
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if config.issuer and claims.get("iss") != config.issuer:
        raise LaunchRefused("the id_token comes from another issuer")
    if client_id not in audiences:
        raise LaunchRefused("the id_token was issued to another application")
    if float(claims.get("exp", 0)) < time.time() - 60:
        raise LaunchRefused("the id_token has expired")
    return claims
