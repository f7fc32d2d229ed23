"""The EHR client against a loopback EHR that misbehaves on purpose (fhirpy's aiohttp traffic is real HTTP);
the SMART token endpoint is faked with respx at the httpx boundary."""

from __future__ import annotations

import httpx
import pytest
import respx
from tests.fixtures.sekmet import MisbehavingServer

from fhircrm.ehr.auth import SmartBackendAuth
from fhircrm.ehr.client import FhirpyEhrClient
from fhircrm.ehr.errors import EhrError, EhrUnavailable
from fhircrm.ehr.keys import generate_key
from fhircrm.ehr.resilience import CircuitBreaker

PATIENT = {"resourceType": "Patient", "id": "p1"}


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _client(ehr: MisbehavingServer, **kwargs: object) -> tuple[FhirpyEhrClient, Sleeps]:
    sleeps = Sleeps()
    return FhirpyEhrClient(ehr.base_url, sleep=sleeps, **kwargs), sleeps  # type: ignore[arg-type]


async def test_a_429_is_retried_after_the_retry_after_seconds(misbehaving_ehr: MisbehavingServer) -> None:
    misbehaving_ehr.app.resources["Patient/p1"] = PATIENT
    misbehaving_ehr.app.answer("Patient/p1", (429, {"Retry-After": "2"}, 0))
    client, sleeps = _client(misbehaving_ehr)
    assert await client.read("Patient", "p1") == PATIENT
    assert sleeps == [2.0]


async def test_a_503_asking_for_a_long_wait_becomes_a_later_retry(misbehaving_ehr: MisbehavingServer) -> None:
    misbehaving_ehr.app.answer("Patient/p1", (503, {"Retry-After": "120"}, 0))
    client, sleeps = _client(misbehaving_ehr, max_wait=5.0)
    with pytest.raises(EhrUnavailable) as caught:
        await client.read("Patient", "p1")
    assert (caught.value.status, caught.value.retry_after, sleeps) == (503, 120.0, [])


async def test_a_slow_ehr_times_out_and_is_reported_unavailable(misbehaving_ehr: MisbehavingServer) -> None:
    misbehaving_ehr.app.resources["Patient/p1"] = PATIENT
    misbehaving_ehr.app.answer("Patient/p1", *[(200, {}, 1.0)] * 3)
    client, sleeps = _client(misbehaving_ehr, timeout=0.2, max_retries=2)
    with pytest.raises(EhrUnavailable):
        await client.read("Patient", "p1")
    assert len(sleeps) == 2  # two backoffs, three attempts


async def test_a_refusal_is_not_retried(misbehaving_ehr: MisbehavingServer) -> None:
    misbehaving_ehr.app.answer("Patient/p1", (422, {}, 0))
    client, sleeps = _client(misbehaving_ehr)
    with pytest.raises(EhrError) as caught:
        await client.read("Patient", "p1")
    assert (type(caught.value), caught.value.status, sleeps) == (EhrError, 422, [])


async def test_the_circuit_opens_after_repeated_failures_and_refuses_at_once(
    misbehaving_ehr: MisbehavingServer,
) -> None:
    misbehaving_ehr.app.answer("Patient/p1", *[(502, {}, 0)] * 2)
    breaker = CircuitBreaker(failures=2, reset_seconds=60)
    client, _ = _client(misbehaving_ehr, breaker=breaker, max_retries=1)
    with pytest.raises(EhrUnavailable):
        await client.read("Patient", "p1")
    requests_before = len(misbehaving_ehr.app.seen)
    with pytest.raises(EhrUnavailable, match="circuit"):
        await client.read("Patient", "p1")
    assert len(misbehaving_ehr.app.seen) == requests_before


@respx.mock
async def test_a_401_fetches_a_fresh_token_and_retries_once(misbehaving_ehr: MisbehavingServer) -> None:
    token_url = "https://auth.example.test/token"
    respx.get(f"{misbehaving_ehr.base_url}/.well-known/smart-configuration").mock(
        return_value=httpx.Response(200, json={"token_endpoint": token_url})
    )
    tokens = respx.post(token_url).mock(
        side_effect=[
            httpx.Response(200, json={"access_token": "revoked", "expires_in": 3600}),
            httpx.Response(200, json={"access_token": "fresh", "expires_in": 3600}),
        ]
    )
    misbehaving_ehr.app.resources["Patient/p1"] = PATIENT
    misbehaving_ehr.app.accept_token = "fresh"
    async with httpx.AsyncClient() as http:
        auth = SmartBackendAuth(
            base_url=misbehaving_ehr.base_url,
            client_id="fhircrm",
            key=generate_key("ES384"),
            http=http,
            scope="system/*.rs",
        )
        client, _ = _client(misbehaving_ehr, auth=auth)
        assert await client.read("Patient", "p1") == PATIENT
    assert tokens.call_count == 2
    assert [a for _, a in misbehaving_ehr.app.seen] == ["Bearer revoked", "Bearer fresh"]


@respx.mock
async def test_tokens_are_cached_until_shortly_before_they_expire() -> None:
    now = [1000.0]
    token = respx.post("https://auth.example.test/token").mock(
        return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 300})
    )
    async with httpx.AsyncClient() as http:
        auth = SmartBackendAuth(
            base_url="https://ehr.example.test/fhir",
            client_id="fhircrm",
            key=generate_key("RS384"),
            http=http,
            scope="system/*.rs",
            token_url="https://auth.example.test/token",
            clock=lambda: now[0],
        )
        await auth.header()
        now[0] += 200  # 100 s left: still fresh
        await auth.header()
        assert token.call_count == 1
        now[0] += 50  # 50 s left: inside the refresh margin
        await auth.header()
        assert token.call_count == 2


@respx.mock
async def test_the_client_assertion_is_signed_for_the_token_endpoint() -> None:
    from joserfc import jwt

    key = generate_key("ES384")
    async with httpx.AsyncClient() as http:
        auth = SmartBackendAuth(
            base_url="https://ehr.example.test/fhir",
            client_id="fhircrm",
            key=key,
            http=http,
            scope="system/*.rs",
            token_url="https://auth.example.test/token",
        )
        token = jwt.decode(auth.assertion("https://auth.example.test/token"), key, algorithms=["ES384"])
    assert token.header["alg"] == "ES384" and token.header["kid"] == key.kid
    claims = token.claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("fhircrm", "fhircrm", "https://auth.example.test/token")
    assert claims["exp"] - claims["iat"] <= 300 and claims["jti"]
