"""``private_key_jwt`` client authentication (RFC 7523, SMART Backend Services).

The client signs a short-lived JWT (RS384 or ES384) with ``iss`` = ``sub`` = its client_id, ``aud`` = the token
endpoint URL, ``exp`` at most five minutes ahead and a unique ``jti``. The jti is recorded in the database
(``JtiStore``), so a captured assertion cannot be replayed against any replica before it expires.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from joserfc import jwt
from joserfc.errors import JoseError

from fhircrm.smart.claims import check_audience, check_times
from fhircrm.smart.clients import OAuthError, RegisteredClient
from fhircrm.smart.errors import InvalidToken
from fhircrm.smart.jti import JtiStore
from fhircrm.smart.jwks import fetch_key_set, parse_key_set
from fhircrm.smart.validators import unverified_parts

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS384", "ES384")
MAX_ASSERTION_LIFETIME = 300.0


class _Refused(OAuthError):
    def __init__(self, description: str):
        super().__init__("invalid_client", description)


async def verify_client_assertion(
    assertion: str,
    *,
    lookup: Callable[[str], RegisteredClient | None],
    token_url: str,
    jti_store: JtiStore,
    http: httpx.AsyncClient | None = None,
    leeway: float = 60.0,
    now: float | None = None,
) -> RegisteredClient:
    """The authenticated client, or OAuthError(invalid_client)."""
    try:
        header, unverified = unverified_parts(assertion)
    except InvalidToken as exc:
        raise _Refused("the client assertion is not a well-formed JWT") from exc
    client_id = unverified.get("iss")
    client = lookup(client_id) if isinstance(client_id, str) else None
    if client is None or client.auth_method != "private_key_jwt":
        raise _Refused("unknown client, or a client not registered for private_key_jwt")
    if header.get("alg") not in ASSERTION_ALGORITHMS:
        raise _Refused("client assertions must be signed with RS384 or ES384")
    keys, unnamed = await _client_keys(client, http)
    key = _pick(keys, unnamed, header.get("kid"))
    if key is None:
        raise _Refused("the assertion's kid is not among the client's registered keys")
    try:
        claims = jwt.decode(assertion, key, algorithms=list(ASSERTION_ALGORITHMS)).claims
    except (JoseError, ValueError) as exc:
        raise _Refused("the client assertion's signature does not verify") from exc
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise _Refused("iss and sub of the client assertion must both be the client_id")
    moment = time.time() if now is None else now
    check_audience(claims, token_url, error=_Refused)
    check_times(claims, now=moment, leeway=leeway, max_lifetime=MAX_ASSERTION_LIFETIME, error=_Refused)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise _Refused("the client assertion has no jti")
    expires = datetime.fromtimestamp(float(claims["exp"]) + leeway, UTC)
    if not await jti_store.use(f"client:{client.client_id}", jti, expires_at=expires):
        raise _Refused("this client assertion (jti) was already used")
    return client


async def _client_keys(client: RegisteredClient, http: httpx.AsyncClient | None) -> tuple[dict, list]:
    if client.jwks is not None:
        return parse_key_set(client.jwks)
    if client.jwks_url and http is not None:
        return await fetch_key_set(http, client.jwks_url)
    return {}, []


def _pick(keys: dict, unnamed: list, kid: object) -> object | None:
    """The key named by ``kid``; without a kid, the client's only key."""
    if isinstance(kid, str):
        return keys.get(kid)
    candidates = [*keys.values(), *unnamed]
    return candidates[0] if len(candidates) == 1 else None
