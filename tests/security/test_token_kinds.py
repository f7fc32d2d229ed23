"""Tokens that verify but must not be accepted (issue #13): a refresh token presented as an access token is 401;
a ``fhirUser`` on another server's base is 403, never mapped to the local person with the same id. Real tokens,
signed by the test EHR's key and checked against its JWKS."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import EHR_ISSUER, FHIR_BASE, KEY, clinic, secured_app, seed, token
from tests.security.test_audit_events import audit_events

EHR_BASE = "https://ehr.example.org/fhir"


@pytest.fixture
async def app_with_ehr(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[FastAPI]:
    await seed(clean_engine, *clinic())
    async with secured_app(clean_engine, database_url, ehr_base_url=EHR_BASE) as app:
        yield app


def client_of(app: FastAPI, bearer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {bearer}"}
    return httpx.AsyncClient(transport=transport, base_url=FHIR_BASE, headers=headers)


def with_header(typ: str, scope: str = "user/*.rs") -> str:
    now = int(time.time())
    claims = {
        "iss": EHR_ISSUER,
        "aud": FHIR_BASE,
        "sub": "user-7",
        "client_id": "crm-app",
        "scope": scope,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "RS384", "kid": KEY.kid, "typ": typ}, claims, KEY, algorithms=["RS384"])


REFRESH_TOKENS = {
    "token_use claim": lambda: token("user/*.rs", token_use="refresh"),
    "use claim": lambda: token("user/*.rs", use="refresh"),
    "typ claim": lambda: token("user/*.rs", typ="Refresh"),
    "typ header": lambda: with_header("refresh+jwt"),
}


@pytest.mark.parametrize("kind", sorted(REFRESH_TOKENS))
async def test_a_refresh_token_is_not_an_access_token(app_with_ehr: FastAPI, clean_engine, kind: str) -> None:
    async with client_of(app_with_ehr, REFRESH_TOKENS[kind]()) as client:
        answer = await client.get("/Patient/p1")
    assert answer.status_code == 401, answer.text
    assert "refresh token" in answer.json()["issue"][0]["diagnostics"]
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    [event] = await audit_events(clean_engine)
    assert event["outcomeDesc"] == "401 login"


async def test_access_tokens_that_say_so_still_work(app_with_ehr: FastAPI) -> None:
    for bearer in (token("user/*.rs", token_use="access"), with_header("at+jwt")):
        async with client_of(app_with_ehr, bearer) as client:
            assert (await client.get("/Patient/p1")).status_code == 200


async def test_a_fhir_user_of_another_server_is_refused(app_with_ehr: FastAPI, clean_engine) -> None:
    # Practitioner/dr-1 exists here; a token naming another server's dr-1 must not become ours
    stranger = token("user/*.cruds", fhirUser="https://elsewhere.example.com/fhir/Practitioner/dr-1")
    async with client_of(app_with_ehr, stranger) as client:
        read = await client.get("/Patient/p1")
        write = await client.post("/Patient", json={"resourceType": "Patient"})
    for answer in (read, write):
        assert answer.status_code == 403, answer.text
        assert answer.json()["issue"][0]["diagnostics"] == (
            "the token's fhirUser is not on this server's FHIR base or the configured EHR's"
        )
    events = await audit_events(clean_engine)
    assert sorted(e["outcomeDesc"] for e in events) == ["403 forbidden", "403 forbidden"]
    async with client_of(app_with_ehr, token("user/*.rs")) as client:
        assert (await client.get("/Patient", params={"_summary": "count"})).json()["total"] == 2  # nothing created


@pytest.mark.parametrize(
    "fhir_user",
    ["Practitioner/dr-1", f"{FHIR_BASE}/Practitioner/dr-1", f"{EHR_BASE}/Practitioner/dr-1"],
)
async def test_a_fhir_user_here_or_at_the_ehr_is_accepted(app_with_ehr: FastAPI, fhir_user: str) -> None:
    async with client_of(app_with_ehr, token("user/*.rs", fhirUser=fhir_user)) as client:
        assert (await client.get("/Patient/p1")).status_code == 200


async def test_a_base_that_only_starts_like_ours_is_another_server(app_with_ehr: FastAPI) -> None:
    lookalike = token("user/*.rs", fhirUser=f"{EHR_BASE}.evil.example/Practitioner/dr-1")
    async with client_of(app_with_ehr, lookalike) as client:
        assert (await client.get("/Patient/p1")).status_code == 403
