"""A JSON Web Key Set fetched over HTTP, cached, and refetched when a token names a key we do not know yet.

Authorization servers rotate keys by publishing the new key first and signing with it later, so an unknown
``kid`` means "refetch once". Refetches are rate-limited (``min_refresh_seconds``) so that a stream of tokens
with made-up kids cannot turn fhircrm into a flood against the issuer; the cache also expires after ``ttl``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from fhircrm.smart.errors import AuthServerUnavailable, InvalidToken

log = logging.getLogger(__name__)
SigningKey = RSAKey | ECKey


class JwksCache:
    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        ttl: float = 3600.0,
        min_refresh_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = url
        self._http = http
        self._ttl = ttl
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._unnamed: list[SigningKey] = []
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str | None) -> SigningKey:
        """The key for ``kid`` (or the only key, when the token names none)."""
        if self._stale():
            await self._refresh(force=True)
        found = self._lookup(kid)
        if found is None and self._may_refresh():
            await self._refresh(force=False)
            found = self._lookup(kid)
        if found is None:
            raise InvalidToken("the token is signed with a key the issuer does not publish")
        return found

    def _lookup(self, kid: str | None) -> SigningKey | None:
        if kid is not None:
            return self._keys.get(kid)
        candidates = [*self._keys.values(), *self._unnamed]
        return candidates[0] if len(candidates) == 1 else None

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self._ttl

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._min_refresh

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and not self._may_refresh():
                return  # another request refetched while we waited
            if force and not self._stale():
                return
            keys, unnamed = await fetch_key_set(self._http, self.url)
            self.fetches += 1
            self._keys, self._unnamed, self._fetched_at = keys, unnamed, self._clock()


async def fetch_key_set(http: httpx.AsyncClient, url: str) -> tuple[dict[str, SigningKey], list[SigningKey]]:
    """GET a JWKS document; keys for signing only (RSA and EC), by kid."""
    try:
        response = await http.get(url, headers={"Accept": "application/json"}, timeout=10.0)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("cannot fetch the issuer's JWKS (%s)", type(exc).__name__)
        raise AuthServerUnavailable("the authorization server's keys cannot be fetched; retry later") from exc
    return parse_key_set(document)


def parse_key_set(document: object) -> tuple[dict[str, SigningKey], list[SigningKey]]:
    keys: dict[str, SigningKey] = {}
    unnamed: list[SigningKey] = []
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC") or entry.get("use", "sig") != "sig":
            continue
        try:
            key = KeySet.import_key_set({"keys": [entry]}).keys[0]
        except (JoseError, ValueError, TypeError, KeyError):
            continue  # one bad key does not spoil the others
        if isinstance(key, (RSAKey, ECKey)):
            kid = entry.get("kid")  # joserfc fills in a thumbprint kid; only the published one counts
            if isinstance(kid, str) and kid:
                keys[kid] = key
            else:
                unnamed.append(key)
    return keys, unnamed
