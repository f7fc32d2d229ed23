"""Access-token validation, two ways: a JWT checked against the issuer's JWKS, or RFC 7662 introspection.

Both return the token's claims (an introspection response uses the same names) after checking issuer, audience
(fhircrm's FHIR base URL), exp and nbf with a small leeway; ``AccessContext.from_claims`` makes the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
import orjson
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError

from fhircrm.config import Settings
from fhircrm.smart.claims import check_access_token, check_audience, check_issuer, check_times
from fhircrm.smart.errors import AuthServerUnavailable, InvalidToken
from fhircrm.smart.jwks import JwksCache

log = logging.getLogger(__name__)
#: Asymmetric algorithms only: a shared-secret HS256 token could be forged by anyone who knows the secret.
ACCESS_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")


class TokenValidator(Protocol):
    async def validate(self, token: str) -> dict[str, Any]:
        """The trusted claims of ``token``, or InvalidToken / AuthServerUnavailable."""
        ...


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims *before* the signature is checked: only to pick a key or a client. Never trust them."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = orjson.loads(compact.payload)
    except (JoseError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidToken("the token is not a well-formed JWT") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("the token's payload is not a JSON object")
    return dict(compact.protected), claims


class JwtValidator:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: JwksCache,
        leeway: float = 60.0,
        algorithms: tuple[str, ...] = ACCESS_TOKEN_ALGORITHMS,
        clock: Callable[[], float] = time.time,
    ):
        self.issuer, self.audience, self.keys = issuer, audience, keys
        self.leeway, self.algorithms, self._clock = leeway, algorithms, clock

    async def validate(self, token: str) -> dict[str, Any]:
        header, _ = unverified_parts(token)
        if header.get("alg") not in self.algorithms:
            raise InvalidToken("the token's signing algorithm is not accepted")
        key = await self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(token, key, algorithms=list(self.algorithms)).claims
        except BadSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except (JoseError, ValueError) as exc:
            raise InvalidToken("the token cannot be verified") from exc
        check_issuer(claims, self.issuer)
        check_audience(claims, self.audience)
        check_times(claims, now=self._clock(), leeway=self.leeway)
        check_access_token(header, claims)
        return claims


class IntrospectionValidator:
    """Asks the authorization server (RFC 7662) about every token; authenticates with client_secret_basic."""

    def __init__(
        self,
        *,
        url: str,
        audience: str,
        http: httpx.AsyncClient,
        issuer: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
    ):
        self.url, self.audience, self.issuer, self._http = url, audience, issuer, http
        self._auth = httpx.BasicAuth(client_id, client_secret or "") if client_id else None
        self.leeway, self._clock = leeway, clock

    async def validate(self, token: str) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self.url,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"Accept": "application/json"},
                auth=self._auth or httpx.USE_CLIENT_DEFAULT,
                timeout=10.0,
            )
            response.raise_for_status()
            claims = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("token introspection failed (%s)", type(exc).__name__)
            raise AuthServerUnavailable("the authorization server cannot be asked about the token; retry") from exc
        if not isinstance(claims, dict) or claims.get("active") is not True:
            raise InvalidToken("the authorization server reports the token inactive")
        if "iss" in claims:
            check_issuer(claims, self.issuer)
        if "aud" in claims:  # optional in RFC 7662; when present it must name us
            check_audience(claims, self.audience)
        check_times(claims, now=self._clock(), leeway=self.leeway, require_exp=False)
        check_access_token({}, claims)  # RFC 7662 token_type: refresh_token
        return claims


def build_validator(settings: Settings, http: httpx.AsyncClient) -> TokenValidator | None:
    """The validator the settings ask for; None for ``auth_mode=none``."""
    audience = settings.auth_audience or settings.base_url
    if settings.auth_mode == "jwt":
        assert settings.auth_issuer and settings.auth_jwks_url  # the settings validator guarantees it
        cache = JwksCache(settings.auth_jwks_url, http, min_refresh_seconds=settings.auth_jwks_min_refresh_seconds)
        return JwtValidator(
            issuer=settings.auth_issuer, audience=audience, keys=cache, leeway=settings.auth_leeway_seconds
        )
    if settings.auth_mode == "introspection":
        assert settings.auth_introspection_url
        secret = settings.auth_introspection_client_secret
        return IntrospectionValidator(
            url=settings.auth_introspection_url,
            audience=audience,
            http=http,
            issuer=settings.auth_issuer,
            client_id=settings.auth_introspection_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            leeway=settings.auth_leeway_seconds,
        )
    return None
