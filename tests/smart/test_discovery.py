"""SMART discovery: ``/fhir/.well-known/smart-configuration`` and the CapabilityStatement's rest.security."""

from __future__ import annotations

import httpx
from tests.smart.conftest import EHR, EHR_ISSUER, EHR_JWKS, asgi_client, probe_app

from fhircrm.config import Settings
from fhircrm.fhir.capability import capability_statement
from fhircrm.smart.discovery import OAUTH_URIS, security_block

EHR_SETTINGS = {
    "auth_mode": "jwt",
    "auth_issuer": EHR_ISSUER,
    "auth_jwks_url": EHR_JWKS,
    "auth_authorize_url": f"{EHR}/oauth2/authorize",
    "auth_token_url": f"{EHR}/oauth2/token",
    "auth_introspection_url": f"{EHR}/oauth2/introspect",
}


async def test_discovery_document_names_the_ehr_endpoints_and_capabilities(http: httpx.AsyncClient):
    async with asgi_client(probe_app(http, **EHR_SETTINGS)) as client:
        response = await client.get("/fhir/.well-known/smart-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == EHR_ISSUER
    assert document["jwks_uri"] == EHR_JWKS
    assert document["authorization_endpoint"] == f"{EHR}/oauth2/authorize"
    assert document["token_endpoint"] == f"{EHR}/oauth2/token"
    assert document["introspection_endpoint"] == f"{EHR}/oauth2/introspect"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["token_endpoint_auth_methods_supported"]) == {"private_key_jwt", "client_secret_basic"}
    assert {"authorization_code", "client_credentials"} <= set(document["grant_types_supported"])
    assert document["response_types_supported"] == ["code"]
    assert {"launch-ehr", "launch-standalone", "permission-v2", "context-ehr-patient"} <= set(document["capabilities"])
    assert "patient/*.rs" in document["scopes_supported"]


async def test_discovery_without_an_authorization_server_is_not_found(http: httpx.AsyncClient):
    async with asgi_client(probe_app(http)) as client:
        response = await client.get("/fhir/.well-known/smart-configuration")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_dev_server_fills_in_endpoints_that_are_not_configured(http: httpx.AsyncClient, tmp_path):
    app = probe_app(http, dev_auth_enabled=True, dev_auth_key_file=tmp_path / "key.json")
    async with asgi_client(app) as client:
        document = (await client.get("/fhir/.well-known/smart-configuration")).json()
    assert document["issuer"] == "http://testserver/auth"
    assert document["token_endpoint"] == "http://testserver/auth/token"
    assert document["jwks_uri"] == "http://testserver/auth/jwks"


def test_security_block_carries_the_oauth_uris_extension():
    block = security_block(Settings(environment="test", **EHR_SETTINGS))
    assert block is not None
    assert block["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    (extension,) = block["extension"]
    assert extension["url"] == OAUTH_URIS
    uris = {e["url"]: e["valueUri"] for e in extension["extension"]}
    assert uris == {
        "token": f"{EHR}/oauth2/token",
        "authorize": f"{EHR}/oauth2/authorize",
        "introspect": f"{EHR}/oauth2/introspect",
    }


def test_security_block_is_absent_without_an_authorization_server():
    assert security_block(Settings(environment="test")) is None


def test_capability_statement_publishes_the_security_block():
    block = security_block(Settings(environment="test", **EHR_SETTINGS))
    statement = capability_statement("http://testserver/fhir", security=block)
    assert statement["rest"][0]["security"]["extension"][0]["url"] == OAUTH_URIS
