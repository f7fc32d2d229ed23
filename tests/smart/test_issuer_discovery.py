"""Authorization on with only the issuer and its JWKS set (the README's first three auth settings): fhircrm reads
the authorize and token URLs from the issuer's own discovery document at start-up and publishes them in
``/.well-known/smart-configuration`` and ``rest.security``; when the issuer names none, it refuses to start.

The issuer is a third party: its HTTP answers are faked with respx, at the shared httpx client's boundary. The
app's real lifespan runs (without migrations) on the session's database.
"""

from __future__ import annotations

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.app import create_app
from fhircrm.config import Settings
from fhircrm.smart.discovery import OAUTH_URIS, DiscoveryError

ISSUER = "https://login.hospital.example/realms/ehr"
SMART = f"{ISSUER}/.well-known/smart-configuration"
OPENID = f"{ISSUER}/.well-known/openid-configuration"
IDP = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
    "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs",
}


def _settings(database_url: str, **extra: object) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        auth_mode="jwt",
        auth_issuer=ISSUER,
        auth_jwks_url=IDP["jwks_uri"],
        **extra,
    )


async def _published(database_url: str, **extra: object) -> tuple[dict, dict]:
    """(the smart-configuration document, the CapabilityStatement's rest.security) after a real start-up."""
    app = create_app(_settings(database_url, **extra), migrate=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            document = await client.get("/fhir/.well-known/smart-configuration")
            metadata = await client.get("/fhir/metadata", headers={"Accept": "application/fhir+json"})
    assert document.status_code == 200
    return document.json(), metadata.json()["rest"][0]["security"]


def _oauth_uris(security: dict) -> dict[str, str]:
    [extension] = [e for e in security["extension"] if e["url"] == OAUTH_URIS]
    return {e["url"]: e["valueUri"] for e in extension["extension"]}


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_the_openid_configuration_is_used_when_there_is_no_smart_configuration(
    clean_engine: AsyncEngine, database_url: str, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(SMART).respond(404)
    openid = respx_mock.get(OPENID).respond(200, json=IDP)
    document, security = await _published(database_url)
    assert openid.call_count == 1  # once, at start-up; not per request
    assert document["authorization_endpoint"] == IDP["authorization_endpoint"]
    assert document["token_endpoint"] == IDP["token_endpoint"]
    assert document["issuer"] == ISSUER
    assert _oauth_uris(security) == {"authorize": IDP["authorization_endpoint"], "token": IDP["token_endpoint"]}


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_the_issuers_smart_configuration_comes_first(
    clean_engine: AsyncEngine, database_url: str, respx_mock: respx.MockRouter
) -> None:
    smart = {**IDP, "authorization_endpoint": f"{ISSUER}/smart/authorize", "token_endpoint": f"{ISSUER}/smart/token"}
    respx_mock.get(SMART).respond(200, json=smart)
    openid = respx_mock.get(OPENID).respond(200, json=IDP)
    document, security = await _published(database_url)
    assert openid.call_count == 0
    assert document["authorization_endpoint"] == f"{ISSUER}/smart/authorize"
    assert _oauth_uris(security)["token"] == f"{ISSUER}/smart/token"


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_configured_urls_need_no_fetch(
    clean_engine: AsyncEngine, database_url: str, respx_mock: respx.MockRouter
) -> None:
    fetched = respx_mock.get(url__startswith=ISSUER).respond(500)
    document, _ = await _published(
        database_url, auth_authorize_url="https://a.example/authorize", auth_token_url="https://a.example/token"
    )
    assert fetched.call_count == 0
    assert document["token_endpoint"] == "https://a.example/token"


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_without_any_discovery_it_refuses_to_start_and_says_what_to_set(
    clean_engine: AsyncEngine, database_url: str, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(SMART).respond(404)
    respx_mock.get(OPENID).respond(200, json={"issuer": ISSUER})  # no endpoints in it
    app = create_app(_settings(database_url), migrate=False)
    with pytest.raises(DiscoveryError) as refused:
        async with app.router.lifespan_context(app):
            pass
    message = str(refused.value)
    assert "FHIRCRM_AUTH_AUTHORIZE_URL" in message
    assert "FHIRCRM_AUTH_TOKEN_URL" in message
    assert f"{SMART}: HTTP 404" in message
