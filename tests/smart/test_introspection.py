"""``auth_mode=introspection``: every token is asked about at the EHR's RFC 7662 endpoint (faked by respx)."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from tests.smart.conftest import EHR_INTROSPECT, EHR_ISSUER, FHIR_BASE, asgi_client, probe_app

TOKEN = "opaque-token-123"


def active(**overrides: object) -> dict:
    body = {
        "active": True,
        "iss": EHR_ISSUER,
        "aud": FHIR_BASE,
        "sub": "practitioner-7",
        "client_id": "crm-app",
        "scope": "user/Task.rs",
        "fhirUser": "Practitioner/7",
        "exp": int(time.time()) + 300,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def ehr() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(http: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    app = probe_app(
        http,
        auth_mode="introspection",
        auth_issuer=EHR_ISSUER,
        auth_introspection_url=EHR_INTROSPECT,
        auth_introspection_client_id="fhircrm",
        auth_introspection_client_secret="s3cret",
    )
    async with asgi_client(app) as client:
        yield client


async def get(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/fhir/_probe/Task", headers={"Authorization": f"Bearer {TOKEN}"})


async def test_active_token_gives_the_caller(client: httpx.AsyncClient, ehr: respx.MockRouter):
    ehr.post(EHR_INTROSPECT).respond(json=active())
    response = await get(client)
    assert response.status_code == 200
    assert response.json()["fhirUser"] == "Practitioner/7"
    assert response.json()["unrestricted"] is True


async def test_introspection_request_carries_the_token_and_fhircrm_credentials(client, ehr: respx.MockRouter):
    route = ehr.post(EHR_INTROSPECT).respond(json=active())
    await get(client)
    request = route.calls.last.request
    assert parse_qs(request.content.decode()) == {"token": [TOKEN], "token_type_hint": ["access_token"]}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"fhircrm:s3cret").decode()


async def test_inactive_token_is_refused(client: httpx.AsyncClient, ehr: respx.MockRouter):
    ehr.post(EHR_INTROSPECT).respond(json={"active": False})
    response = await get(client)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_active_token_for_another_audience_is_refused(client: httpx.AsyncClient, ehr: respx.MockRouter):
    ehr.post(EHR_INTROSPECT).respond(json=active(aud="https://other.example.org/fhir"))
    assert (await get(client)).status_code == 401


async def test_active_token_from_another_issuer_is_refused(client: httpx.AsyncClient, ehr: respx.MockRouter):
    ehr.post(EHR_INTROSPECT).respond(json=active(iss="https://evil.example.org"))
    assert (await get(client)).status_code == 401


async def test_active_but_expired_token_is_refused(client: httpx.AsyncClient, ehr: respx.MockRouter):
    ehr.post(EHR_INTROSPECT).respond(json=active(exp=int(time.time()) - 600))
    assert (await get(client)).status_code == 401


async def test_introspection_endpoint_failure_is_a_503(client: httpx.AsyncClient, ehr: respx.MockRouter):
    ehr.post(EHR_INTROSPECT).respond(status_code=500)
    assert (await get(client)).status_code == 503


async def test_no_token_is_refused_without_asking_the_ehr(client: httpx.AsyncClient, ehr: respx.MockRouter):
    route = ehr.post(EHR_INTROSPECT).respond(json=active())
    assert (await client.get("/fhir/_probe/Task")).status_code == 401
    assert route.call_count == 0
