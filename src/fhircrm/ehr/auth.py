"""Authorization headers for calls to the EHR: none, a static bearer token, or SMART Backend Services.

Backend Services: a ``client_credentials`` grant authenticated by a ``private_key_jwt`` assertion (RS384 or
ES384, five minutes, unique jti). The token endpoint comes from ``ehr_token_url`` or the EHR's
``.well-known/smart-configuration``. Tokens are cached and refreshed a minute before they expire, and dropped
when the EHR answers 401 (a revoked or rotated token), so the next call fetches a fresh one. The token calls go
through the shared httpx client (respx fakes them in tests).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Protocol

import httpx
from joserfc import jwt

from fhircrm.config import Settings
from fhircrm.ehr.errors import EhrError, EhrUnavailable
from fhircrm.ehr.keys import SigningKey, load_or_create_key
from fhircrm.ehr.resilience import RETRYABLE_STATUSES, parse_retry_after

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REFRESH_MARGIN = 60.0


class Auth(Protocol):
    async def header(self) -> str | None: ...
    def invalidate(self) -> None: ...


class NoAuth:
    async def header(self) -> str | None:
        return None

    def invalidate(self) -> None:
        return None


class BearerAuth:
    def __init__(self, token: str):
        self._token = token

    async def header(self) -> str | None:
        return f"Bearer {self._token}"

    def invalidate(self) -> None:  # a static token cannot be refreshed
        return None


class SmartBackendAuth:
    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        key: SigningKey,
        http: httpx.AsyncClient,
        scope: str,
        token_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.key = key
        self.scope = scope
        self._http = http
        self._token_url = token_url
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def header(self) -> str | None:
        if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN:
            async with self._lock:
                if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN:
                    await self._fetch()
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        self._token = None

    async def token_url(self) -> str:
        if self._token_url is None:
            config = await self._get_json(f"{self.base_url}/.well-known/smart-configuration")
            endpoint = config.get("token_endpoint")
            if not isinstance(endpoint, str):
                raise EhrError("the EHR's smart-configuration names no token_endpoint")
            self._token_url = endpoint
        return self._token_url

    def assertion(self, audience: str) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "exp": now + 300,
            "iat": now,
            "jti": uuid.uuid4().hex,
        }
        alg = self.key.as_dict(private=False).get("alg", "RS384")
        header = {"alg": alg, "kid": self.key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.key, algorithms=[alg])

    async def _fetch(self) -> None:
        url = await self.token_url()
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(url),
        }
        response = await self._send(self._http.post(url, data=form, headers={"Accept": "application/json"}))
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise EhrError("the token endpoint answered without an access_token")
        self.fetches += 1
        self._token = token
        self._expires_at = self._clock() + float(body.get("expires_in") or 300)

    async def _get_json(self, url: str) -> dict:
        response = await self._send(self._http.get(url, headers={"Accept": "application/json"}))
        body = response.json()
        return body if isinstance(body, dict) else {}

    @staticmethod
    async def _send(request: object) -> httpx.Response:
        try:
            response = await request  # type: ignore[misc]
        except httpx.HTTPError as exc:
            raise EhrUnavailable(f"the EHR's authorization server is unreachable ({type(exc).__name__})") from exc
        if response.status_code in RETRYABLE_STATUSES:
            raise EhrUnavailable(
                f"the EHR's authorization server answered {response.status_code}",
                status=response.status_code,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            raise EhrError(f"the EHR's authorization server refused us ({response.status_code})", status=401)
        return response


def build_auth(settings: Settings, http: httpx.AsyncClient) -> Auth:
    if settings.ehr_auth == "bearer":
        if settings.ehr_bearer_token is None:
            raise EhrError("FHIRCRM_EHR_AUTH=bearer needs FHIRCRM_EHR_BEARER_TOKEN")
        return BearerAuth(settings.ehr_bearer_token.get_secret_value())
    if settings.ehr_auth == "smart":
        if not (settings.ehr_client_id and settings.ehr_base_url):
            raise EhrError("FHIRCRM_EHR_AUTH=smart needs FHIRCRM_EHR_CLIENT_ID and FHIRCRM_EHR_BASE_URL")
        return SmartBackendAuth(
            base_url=settings.ehr_base_url,
            client_id=settings.ehr_client_id,
            key=load_or_create_key(settings.ehr_key_file, settings.ehr_key_alg),
            http=http,
            scope=settings.ehr_scope,
            token_url=settings.ehr_token_url,
        )
    return NoAuth()
