"""The development authorization server's state and token minting.

Codes, launch contexts and refresh tokens are JWTs signed by the server's own key (each with a ``use`` claim and
an ``aud`` that is *not* the FHIR base, so none of them passes as an access token). Nothing lives only in one
process's memory except the registered clients: single use of codes goes through the database (``JtiStore``).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.errors import NotFound
from fhircrm.smart.claims import check_audience, check_times
from fhircrm.smart.clients import OAuthError, RegisteredClient, hash_secret
from fhircrm.smart.devserver.keys import load_or_create_signing_key
from fhircrm.smart.discovery import dev_issuer
from fhircrm.smart.jti import JtiStore
from fhircrm.smart.scopes import Scopes

CODE_SECONDS = 60
LAUNCH_SECONDS = 3600
REFRESH_SECONDS = {"offline_access": 30 * 24 * 3600, "online_access": 12 * 3600}
CONTEXT_CLAIMS = ("patient", "encounter", "fhirUser")


class DevAuthServer:
    def __init__(self, settings: Settings, engine: AsyncEngine, http: httpx.AsyncClient | None = None):
        if settings.environment == "production" or not settings.dev_auth_enabled:
            raise RuntimeError("the development authorization server is off (FHIRCRM_DEV_AUTH_ENABLED)")
        self.settings = settings
        self.issuer = dev_issuer(settings)
        self.audience = (settings.auth_audience or settings.base_url).rstrip("/")
        self.key: RSAKey = load_or_create_signing_key(settings.dev_auth_key_file)
        self.jti = JtiStore(engine)
        self.http = http
        self.clients: dict[str, RegisteredClient] = {}

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/authorize"

    def jwks(self) -> dict:
        return {"keys": [self.key.as_dict(private=False)]}

    def register(
        self,
        *,
        client_id: str | None = None,
        auth_method: str = "none",
        redirect_uris: tuple[str, ...] = (),
        jwks: dict | None = None,
        jwks_url: str | None = None,
        name: str = "",
    ) -> tuple[RegisteredClient, str | None]:
        """Register a client (development: no approval); returns it and, for client_secret_basic, its secret."""
        if auth_method not in ("none", "client_secret_basic", "private_key_jwt"):
            raise OAuthError("invalid_client_metadata", "token_endpoint_auth_method is not supported")
        if auth_method == "private_key_jwt" and not (jwks or jwks_url):
            raise OAuthError("invalid_client_metadata", "private_key_jwt needs jwks or jwks_uri")
        secret = secrets.token_urlsafe(32) if auth_method == "client_secret_basic" else None
        client = RegisteredClient(
            client_id=client_id or f"dev-{secrets.token_hex(8)}",
            auth_method=auth_method,  # type: ignore[arg-type]
            redirect_uris=tuple(redirect_uris),
            secret_hash=hash_secret(secret) if secret else None,
            jwks=jwks,
            jwks_url=jwks_url,
            name=name,
        )
        self.clients[client.client_id] = client
        return client, secret

    def client(self, client_id: str) -> RegisteredClient | None:
        return self.clients.get(client_id)

    # -- signing ----------------------------------------------------------------------------------------------

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        header = {"alg": "RS384", "kid": self.key.kid, "typ": typ}
        return jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, self.key, algorithms=["RS384"])

    def mint(self, use: str, audience: str, seconds: int, claims: dict[str, Any]) -> str:
        now = int(time.time())
        base = {"iss": self.issuer, "aud": audience, "iat": now, "exp": now + seconds, "jti": secrets.token_hex(16)}
        return self.sign({**base, "use": use, **claims})

    def open(self, token: str, use: str, audience: str, error: str = "invalid_grant") -> dict[str, Any]:
        """Claims of a token this server minted for ``use``, or OAuthError(``error``)."""
        try:
            claims = jwt.decode(token, self.key, algorithms=["RS384"]).claims
        except (JoseError, ValueError) as exc:
            raise OAuthError(error, f"the {use} is not one this server issued") from exc

        class _Refused(OAuthError):
            def __init__(self, description: str):
                super().__init__(error, f"{use}: {description}")

        if claims.get("iss") != self.issuer or claims.get("use") != use:
            raise _Refused("not one this server issued for this purpose")
        check_audience(claims, audience, error=_Refused)
        check_times(claims, now=time.time(), leeway=5, error=_Refused)
        return claims

    # -- tokens -----------------------------------------------------------------------------------------------

    def access_token(self, *, client_id: str, scope: str, context: dict[str, Any], subject: str | None) -> dict:
        """The token response for a grant: access token, and refresh/id tokens when the scopes ask for them."""
        seconds = self.settings.dev_auth_token_seconds
        claims = {"client_id": client_id, "scope": scope, "sub": subject or client_id, **_context(context)}
        now = int(time.time())
        claims["nbf"] = now
        response: dict[str, Any] = {
            "access_token": self.mint("access", self.audience, seconds, claims),
            "token_type": "Bearer",
            "expires_in": seconds,
            "scope": scope,
            **{k: v for k, v in _context(context).items() if k != "fhirUser"},
        }
        if context.get("patient"):
            response["need_patient_banner"] = True
        scopes = Scopes.parse(scope)
        lifetime = next((REFRESH_SECONDS[f] for f in REFRESH_SECONDS if scopes.has(f)), None)
        if lifetime:
            refresh = {"client_id": client_id, "scope": scope, "sub": subject, **_context(context)}
            response["refresh_token"] = self.mint("refresh", self.token_url, lifetime, refresh)
        if scopes.has("openid") and scopes.has("fhirUser") and context.get("fhirUser"):
            id_claims = {"sub": context["fhirUser"], "fhirUser": context["fhirUser"], "nonce": context.get("nonce")}
            response["id_token"] = self.mint("id", client_id, seconds, id_claims)
        return response

    async def burn(self, claims: dict[str, Any]) -> bool:
        """Mark a one-time token (a code) used; False if it was used before."""
        expires = datetime.fromtimestamp(float(claims["exp"]) + 60, UTC)
        return await self.jti.use(f"dev:{claims.get('use')}", str(claims.get("jti", "")), expires_at=expires)


def _context(context: dict[str, Any]) -> dict[str, Any]:
    return {k: context[k] for k in CONTEXT_CLAIMS if context.get(k)}


def get_dev_server(request: Request) -> DevAuthServer:
    """The app's development server, created on first use; 404 when it is disabled."""
    state = request.app.state
    server = getattr(state, "dev_auth", None)
    if server is None:
        settings: Settings = state.settings
        if not settings.dev_auth_enabled or settings.environment == "production":
            raise NotFound("the development authorization server is disabled")
        server = state.dev_auth = DevAuthServer(settings, state.engine, getattr(state, "http", None))
    return server
