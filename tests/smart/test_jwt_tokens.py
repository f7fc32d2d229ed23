"""fhircrm as a resource server, ``auth_mode=jwt``: access tokens checked against the EHR's JWKS (faked by respx)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import OctKey
from tests.smart.conftest import (
    EHR_ISSUER,
    EHR_JWKS,
    access_claims,
    asgi_client,
    ec_key,
    jwks,
    probe_app,
    rsa_key,
    sign,
)

KEY = rsa_key("ehr-key-1")


@pytest.fixture
def ehr() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        router.get(EHR_JWKS).respond(json=jwks(KEY))
        yield router


async def _client(http: httpx.AsyncClient, **settings: object) -> httpx.AsyncClient:
    config = {"auth_mode": "jwt", "auth_issuer": EHR_ISSUER, "auth_jwks_url": EHR_JWKS, **settings}
    return asgi_client(probe_app(http, **config))


@pytest.fixture
async def client(http: httpx.AsyncClient, ehr: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(http) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_valid_token_gives_the_caller_and_launch_context(client: httpx.AsyncClient):
    claims = access_claims()
    response = await client.get("/fhir/_probe/Task", headers=bearer(sign(KEY, claims)))
    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "practitioner-7"
    assert body["client_id"] == "crm-app"
    assert body["patient"] == "pat-1"
    assert body["fhirUser"] == "Practitioner/7"
    assert body["jti"] == claims["jti"]
    assert "patient/Task.rs" in body["scopes"]
    assert body["unrestricted"] is False
    assert body["development"] is False


async def test_request_without_a_token_is_refused_with_a_bearer_challenge(client: httpx.AsyncClient):
    response = await client.get("/fhir/_probe/Task")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="fhircrm"'
    assert response.json()["issue"][0]["code"] == "login"


async def test_basic_credentials_are_treated_as_no_token(client: httpx.AsyncClient):
    response = await client.get("/fhir/_probe/Task", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401
    assert "error=" not in response.headers["WWW-Authenticate"]


async def test_bearer_without_a_token_is_a_bad_request(client: httpx.AsyncClient):
    response = await client.get("/fhir/_probe/Task", headers={"Authorization": "Bearer "})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


async def test_token_with_characters_outside_b64token_is_a_bad_request(client: httpx.AsyncClient):
    response = await client.get("/fhir/_probe/Task", headers={"Authorization": "Bearer a,b c"})
    assert response.status_code == 400


async def test_garbage_token_is_invalid(client: httpx.AsyncClient):
    response = await client.get("/fhir/_probe/Task", headers=bearer("not-a-jwt"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (lambda now: {"exp": now - 120}, "expired"),
        (lambda now: {"aud": "https://other.example.org/fhir"}, "aud"),
        (lambda now: {"iss": "https://evil.example.org"}, "iss"),
        (lambda now: {"nbf": now + 600}, "nbf"),
        (lambda now: {"exp": None}, "exp"),
        (lambda now: {"iat": now + 600}, "iat"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "nbf-in-the-future", "no-exp", "issued-in-the-future"],
)
async def test_token_failing_a_claim_check_is_refused(client: httpx.AsyncClient, claims, reason: str):
    # times are taken when the test runs, not when it is collected (a long suite would make "future" past)
    token = sign(KEY, access_claims(**claims(int(time.time()))))
    response = await client.get("/fhir/_probe/Task", headers=bearer(token))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert reason in challenge


async def test_expiry_within_the_leeway_is_accepted(client: httpx.AsyncClient):
    token = sign(KEY, access_claims(exp=int(time.time()) - 20))
    assert (await client.get("/fhir/_probe/Task", headers=bearer(token))).status_code == 200


async def test_audience_may_be_a_list_containing_the_fhir_base(client: httpx.AsyncClient):
    token = sign(KEY, access_claims(aud=["https://other.example.org", "http://testserver/fhir/"]))
    assert (await client.get("/fhir/_probe/Task", headers=bearer(token))).status_code == 200


async def test_token_signed_by_another_key_with_the_same_kid_is_refused(client: httpx.AsyncClient):
    forged = sign(rsa_key("ehr-key-1"), access_claims())
    response = await client.get("/fhir/_probe/Task", headers=bearer(forged))
    assert response.status_code == 401
    assert "signature" in response.headers["WWW-Authenticate"]


async def test_tampered_payload_is_refused(client: httpx.AsyncClient):
    header, _payload, signature = sign(KEY, access_claims(patient="pat-1")).split(".")
    other = sign(KEY, access_claims(patient="pat-2")).split(".")[1]
    response = await client.get("/fhir/_probe/Task", headers=bearer(f"{header}.{other}.{signature}"))
    assert response.status_code == 401


async def test_symmetric_hs256_token_is_refused(client: httpx.AsyncClient):
    token = jwt.encode({"alg": "HS256", "kid": "ehr-key-1"}, access_claims(), OctKey.import_key("s" * 32))
    response = await client.get("/fhir/_probe/Task", headers=bearer(token))
    assert response.status_code == 401
    assert "algorithm" in response.headers["WWW-Authenticate"]


async def test_unknown_kid_refetches_the_jwks_and_accepts_a_rotated_key(http: httpx.AsyncClient, ehr):
    rotated = rsa_key("ehr-key-2")
    async with await _client(http, auth_jwks_min_refresh_seconds=0) as client:
        assert (await client.get("/fhir/_probe/Task", headers=bearer(sign(KEY, access_claims())))).status_code == 200
        ehr.get(EHR_JWKS).respond(json=jwks(KEY, rotated))  # the EHR publishes its new key
        response = await client.get("/fhir/_probe/Task", headers=bearer(sign(rotated, access_claims())))
    assert response.status_code == 200
    assert ehr.calls.call_count == 2


async def test_kid_still_unknown_after_refetch_is_refused(http: httpx.AsyncClient, ehr):
    async with await _client(http, auth_jwks_min_refresh_seconds=0) as client:
        response = await client.get("/fhir/_probe/Task", headers=bearer(sign(rsa_key("nobody"), access_claims())))
    assert response.status_code == 401
    assert "key" in response.headers["WWW-Authenticate"]


async def test_unknown_kids_do_not_refetch_more_often_than_the_minimum_interval(client: httpx.AsyncClient, ehr):
    assert (await client.get("/fhir/_probe/Task", headers=bearer(sign(KEY, access_claims())))).status_code == 200
    for n in range(3):
        token = sign(rsa_key(f"made-up-{n}"), access_claims())
        assert (await client.get("/fhir/_probe/Task", headers=bearer(token))).status_code == 401
    assert ehr.calls.call_count == 1


async def test_es384_keys_are_accepted(http: httpx.AsyncClient, ehr):
    key = ec_key("ehr-ec")
    ehr.get(EHR_JWKS).respond(json=jwks(key))
    async with await _client(http) as client:
        response = await client.get("/fhir/_probe/Task", headers=bearer(sign(key, access_claims(), alg="ES384")))
    assert response.status_code == 200


async def test_unreachable_jwks_is_a_503_not_the_clients_fault(http: httpx.AsyncClient, ehr):
    ehr.get(EHR_JWKS).mock(side_effect=httpx.ConnectError("down"))
    async with await _client(http) as client:
        response = await client.get("/fhir/_probe/Task", headers=bearer(sign(KEY, access_claims())))
    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"


async def test_token_without_a_scope_for_the_type_is_forbidden(client: httpx.AsyncClient):
    response = await client.get("/fhir/_probe/Observation", headers=bearer(sign(KEY, access_claims())))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert response.json()["issue"][0]["code"] == "forbidden"


async def test_patient_scope_without_a_patient_in_context_is_forbidden(client: httpx.AsyncClient):
    token = sign(KEY, access_claims(patient=None))
    assert (await client.get("/fhir/_probe/Task", headers=bearer(token))).status_code == 403


async def test_auth_mode_none_gives_the_development_all_access_context(http: httpx.AsyncClient):
    async with asgi_client(probe_app(http)) as client:
        response = await client.get("/fhir/_probe/Patient")
    assert response.status_code == 200
    assert response.json()["development"] is True
    assert response.json()["unrestricted"] is True
