"""``private_key_jwt`` client assertions (SMART Backend Services), with replay protection in the database."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.smart.conftest import ec_key, jwks, rsa_key, sign

from fhircrm.smart.client_assertion import verify_client_assertion
from fhircrm.smart.clients import OAuthError, RegisteredClient
from fhircrm.smart.jti import JtiStore

TOKEN_URL = "https://fhircrm.example.org/auth/token"
RSA = rsa_key("backend-rsa")
EC = ec_key("backend-ec")
CLIENT = RegisteredClient("backend-1", auth_method="private_key_jwt", jwks=jwks(RSA, EC))


def assertion_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "backend-1", "sub": "backend-1", "aud": TOKEN_URL, "exp": now + 240, "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def verify(engine: AsyncEngine, assertion: str) -> RegisteredClient:
    clients = {CLIENT.client_id: CLIENT, "public": RegisteredClient("public")}
    return await verify_client_assertion(assertion, lookup=clients.get, token_url=TOKEN_URL, jti_store=JtiStore(engine))


async def test_rs384_assertion_authenticates_the_client(clean_engine: AsyncEngine):
    assert await verify(clean_engine, sign(RSA, assertion_claims())) is CLIENT


async def test_es384_assertion_authenticates_the_client(clean_engine: AsyncEngine):
    assert await verify(clean_engine, sign(EC, assertion_claims(), alg="ES384")) is CLIENT


async def test_replayed_jti_is_refused(clean_engine: AsyncEngine):
    claims = assertion_claims()
    await verify(clean_engine, sign(RSA, claims))
    with pytest.raises(OAuthError, match="already used") as refused:
        await verify(clean_engine, sign(RSA, claims))
    assert refused.value.error == "invalid_client"
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (lambda now: {"aud": "https://elsewhere.example.org/token"}, "aud"),
        (lambda now: {"exp": now + 3600}, "too far"),
        (lambda now: {"exp": now - 600}, "expired"),
        (lambda now: {"jti": None}, "jti"),
        (lambda now: {"sub": "someone-else"}, "iss and sub"),
    ],
    ids=["wrong-audience", "exp-too-far", "expired", "no-jti", "sub-differs"],
)
async def test_assertion_failing_a_claim_check_is_refused(clean_engine: AsyncEngine, claims, reason: str):
    # times are taken when the test runs, not when it is collected
    with pytest.raises(OAuthError, match=reason):
        await verify(clean_engine, sign(RSA, assertion_claims(**claims(int(time.time())))))


async def test_rs256_assertion_is_refused(clean_engine: AsyncEngine):
    unrestricted = {k: v for k, v in RSA.as_dict(private=True).items() if k != "alg"}
    same_key_any_alg = RSAKey.import_key(unrestricted, parameters={"kid": RSA.kid})
    with pytest.raises(OAuthError, match="RS384 or ES384"):
        await verify(clean_engine, sign(same_key_any_alg, assertion_claims(), alg="RS256"))


async def test_assertion_signed_by_an_unregistered_key_is_refused(clean_engine: AsyncEngine):
    with pytest.raises(OAuthError, match="kid"):
        await verify(clean_engine, sign(rsa_key("stranger"), assertion_claims()))


async def test_assertion_signed_by_another_key_under_a_registered_kid_is_refused(clean_engine: AsyncEngine):
    with pytest.raises(OAuthError, match="signature"):
        await verify(clean_engine, sign(rsa_key("backend-rsa"), assertion_claims()))


async def test_unknown_client_is_refused(clean_engine: AsyncEngine):
    with pytest.raises(OAuthError, match="unknown client"):
        await verify(clean_engine, sign(RSA, assertion_claims(iss="nobody", sub="nobody")))


async def test_client_not_registered_for_private_key_jwt_is_refused(clean_engine: AsyncEngine):
    with pytest.raises(OAuthError, match="unknown client"):
        await verify(clean_engine, sign(RSA, assertion_claims(iss="public", sub="public")))


async def test_refused_assertion_does_not_burn_its_jti(clean_engine: AsyncEngine):
    claims = assertion_claims()
    with pytest.raises(OAuthError):
        await verify(clean_engine, sign(rsa_key("backend-rsa"), claims))  # forged: refused before the jti
    assert await JtiStore(clean_engine).count() == 0
