"""The development authorization server end to end: its tokens are accepted by fhircrm's resource-server check,
which fetches the dev server's JWKS over HTTP (ASGI transport into the same app). Runs on PostgreSQL and SQLite
(used codes and client-assertion jtis are in the database)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.smart.conftest import FHIR_BASE, asgi_client, jwks, probe_app, rsa_key, sign

from fhircrm.smart import install_resource_server

ISSUER = "http://testserver/auth"
REDIRECT = "https://app.example.org/callback"


def dev_app(engine: AsyncEngine, key_file: Path, **overrides: object) -> FastAPI:
    settings = {
        "auth_mode": "jwt",
        "auth_issuer": ISSUER,
        "auth_jwks_url": f"{ISSUER}/jwks",
        "dev_auth_enabled": True,
        "dev_auth_key_file": key_file,
        **overrides,
    }
    app = probe_app(httpx.AsyncClient(), engine=engine, **settings)
    own = asgi_client(app)  # the JWKS fetch goes to the dev server in this same app
    app.state.http = own
    install_resource_server(app, app.state.settings, own)
    return app


@pytest.fixture
async def client(clean_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(dev_app(clean_engine, tmp_path / "dev-key.json")) as client:
        yield client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "demo-app",
        "redirect_uri": REDIRECT,
        "scope": "launch openid fhirUser patient/Task.rs offline_access",
        "state": "state-" + uuid.uuid4().hex,
        "aud": FHIR_BASE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v}


async def launch(client: httpx.AsyncClient, **context: str) -> str:
    response = await client.post("/auth/launch", json=context)
    assert response.status_code == 201
    return response.json()["launch"]


async def approve(client: httpx.AsyncClient, params: dict[str, str], **extra: str) -> dict[str, list[str]]:
    response = await client.post("/auth/authorize", data={**params, "decision": "approve", **extra})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


async def exchange(client: httpx.AsyncClient, code: str, verifier: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "demo-app"}
    return await client.post("/auth/token", data={**form, "code_verifier": verifier, **extra})


async def ehr_launch_tokens(client: httpx.AsyncClient) -> dict:
    verifier, challenge = pkce()
    launch_id = await launch(client, patient="pat-9", fhirUser="Practitioner/3")
    code = (await approve(client, authorize_params(challenge, launch=launch_id)))["code"][0]
    response = await exchange(client, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


async def probe(client: httpx.AsyncClient, token: str, resource_type: str = "Task") -> httpx.Response:
    return await client.get(f"/fhir/_probe/{resource_type}", headers={"Authorization": f"Bearer {token}"})


async def test_ehr_launch_issues_a_token_the_resource_server_accepts(client: httpx.AsyncClient):
    tokens = await ehr_launch_tokens(client)
    assert tokens["patient"] == "pat-9"
    assert tokens["token_type"] == "Bearer"
    response = await probe(client, tokens["access_token"])
    assert response.status_code == 200
    assert response.json()["patient"] == "pat-9"
    assert response.json()["fhirUser"] == "Practitioner/3"


async def test_token_response_is_never_cached(client: httpx.AsyncClient):
    verifier, challenge = pkce()
    code = (await approve(client, authorize_params(challenge)))["code"][0]
    response = await exchange(client, code, verifier)
    assert response.headers["cache-control"] == "no-store"


async def test_openid_fhiruser_scopes_give_an_id_token_naming_the_user(client: httpx.AsyncClient):
    id_token = (await ehr_launch_tokens(client))["id_token"]
    payload = id_token.split(".")[1]
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b'"fhirUser":"Practitioner/3"' in claims


async def test_authorization_page_says_development_only_and_lists_the_scopes(client: httpx.AsyncClient):
    _, challenge = pkce()
    response = await client.get("/auth/authorize", params=authorize_params(challenge))
    assert response.status_code == 200
    assert "DEVELOPMENT ONLY" in response.text
    assert "patient/Task.rs" in response.text
    assert "offline_access" in response.text


async def test_state_is_echoed_on_the_redirect(client: httpx.AsyncClient):
    _, challenge = pkce()
    params = authorize_params(challenge)
    assert (await approve(client, params))["state"] == [params["state"]]


async def test_request_without_state_is_refused(client: httpx.AsyncClient):
    _, challenge = pkce()
    query = await approve(client, authorize_params(challenge, state=""))
    assert query["error"] == ["invalid_request"]
    assert "code" not in query


async def test_wrong_code_verifier_is_refused(client: httpx.AsyncClient):
    _, challenge = pkce()
    code = (await approve(client, authorize_params(challenge)))["code"][0]
    response = await exchange(client, code, pkce()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_without_verifier_is_refused(client: httpx.AsyncClient):
    _, challenge = pkce()
    code = (await approve(client, authorize_params(challenge)))["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "demo-app"}
    assert (await client.post("/auth/token", data=form)).json()["error"] == "invalid_grant"


async def test_code_works_only_once(client: httpx.AsyncClient):
    verifier, challenge = pkce()
    code = (await approve(client, authorize_params(challenge)))["code"][0]
    assert (await exchange(client, code, verifier)).status_code == 200
    again = await exchange(client, code, verifier)
    assert again.status_code == 400
    assert "already used" in again.json()["error_description"]


async def test_code_for_another_redirect_uri_is_refused(client: httpx.AsyncClient):
    verifier, challenge = pkce()
    code = (await approve(client, authorize_params(challenge)))["code"][0]
    response = await exchange(client, code, verifier, redirect_uri="https://evil.example.org/cb")
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"aud": "https://other.example.org/fhir"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": ""}, "invalid_scope"),
        ({"launch": "not-a-launch"}, "invalid_request"),
    ],
    ids=["no-pkce", "plain-pkce", "wrong-aud", "implicit-grant", "no-scope", "bad-launch"],
)
async def test_bad_authorization_request_redirects_with_an_error(client, overrides: dict, error: str):
    _, challenge = pkce()
    response = await client.get("/auth/authorize", params=authorize_params(challenge, **overrides))
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == [error]
    assert "code" not in query


async def test_unregistered_redirect_uri_is_shown_not_followed(client: httpx.AsyncClient):
    await client.post("/auth/register", json={"client_id": "registered", "redirect_uris": [REDIRECT]})
    _, challenge = pkce()
    params = authorize_params(challenge, client_id="registered", redirect_uri="https://evil.example.org/cb")
    response = await client.get("/auth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not registered" in response.text


async def test_denial_redirects_with_access_denied(client: httpx.AsyncClient):
    _, challenge = pkce()
    response = await client.post("/auth/authorize", data={**authorize_params(challenge), "decision": "deny"})
    assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["access_denied"]


async def test_standalone_launch_takes_the_patient_picked_on_the_page(client: httpx.AsyncClient):
    verifier, challenge = pkce()
    params = authorize_params(challenge, scope="launch/patient patient/Task.rs")
    page = await client.get("/auth/authorize", params=params)
    assert 'name="patient"' in page.text
    code = (await approve(client, params, patient="pat-42"))["code"][0]
    assert (await exchange(client, code, verifier)).json()["patient"] == "pat-42"


async def test_refresh_token_gives_a_new_access_token_with_the_same_context(client: httpx.AsyncClient):
    tokens = await ehr_launch_tokens(client)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "demo-app"}
    refreshed = await client.post("/auth/token", data=form)
    assert refreshed.status_code == 200
    assert (await probe(client, refreshed.json()["access_token"])).json()["patient"] == "pat-9"


async def test_refresh_cannot_add_scopes(client: httpx.AsyncClient):
    tokens = await ehr_launch_tokens(client)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "demo-app"}
    response = await client.post("/auth/token", data={**form, "scope": "patient/Task.rs user/*.cruds"})
    assert response.json()["error"] == "invalid_scope"


async def test_authorization_code_is_not_an_access_token(client: httpx.AsyncClient):
    _, challenge = pkce()
    code = (await approve(client, authorize_params(challenge)))["code"][0]
    assert (await probe(client, code)).status_code == 401


async def register_backend(client: httpx.AsyncClient):
    key = rsa_key("backend-key")
    body = {"client_id": "backend", "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(key)}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    return key


def client_assertion(key, jti: str | None = None) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": "backend", "sub": "backend", "aud": f"{ISSUER}/token", "exp": now + 120}
    return {
        "grant_type": "client_credentials",
        "scope": "system/Task.rs system/Patient.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": sign(key, {**claims, "jti": jti or uuid.uuid4().hex}),
    }


async def test_backend_service_gets_a_system_token_with_private_key_jwt(client: httpx.AsyncClient):
    key = await register_backend(client)
    response = await client.post("/auth/token", data=client_assertion(key))
    assert response.status_code == 200, response.text
    body = (await probe(client, response.json()["access_token"], "Patient")).json()
    assert body["client_id"] == "backend"
    assert body["unrestricted"] is True


async def test_replayed_client_assertion_is_refused(client: httpx.AsyncClient):
    key = await register_backend(client)
    form = client_assertion(key, jti="once-only")
    assert (await client.post("/auth/token", data=form)).status_code == 200
    replay = await client.post("/auth/token", data=form)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


async def test_client_credentials_for_a_public_client_is_refused(client: httpx.AsyncClient):
    form = {"grant_type": "client_credentials", "client_id": "demo-app", "scope": "system/*.rs"}
    assert (await client.post("/auth/token", data=form)).json()["error"] == "unauthorized_client"


async def introspect(client: httpx.AsyncClient, token: str) -> httpx.Response:
    registered = (
        await client.post("/auth/register", json={"token_endpoint_auth_method": "client_secret_basic"})
    ).json()
    return await client.post(
        "/auth/introspect", data={"token": token}, auth=(registered["client_id"], registered["client_secret"])
    )


async def test_introspection_reports_an_issued_token_active(client: httpx.AsyncClient):
    tokens = await ehr_launch_tokens(client)
    body = (await introspect(client, tokens["access_token"])).json()
    assert body["active"] is True
    assert body["patient"] == "pat-9"


async def test_introspection_reports_a_foreign_token_inactive(client: httpx.AsyncClient):
    forged = sign(rsa_key("x"), {"iss": ISSUER, "aud": FHIR_BASE, "exp": int(time.time()) + 60, "use": "access"})
    assert (await introspect(client, forged)).json() == {"active": False}


async def test_introspection_needs_client_credentials(client: httpx.AsyncClient):
    response = await client.post("/auth/introspect", data={"token": "x", "client_id": "demo-app"})
    assert response.status_code == 401


async def test_tokens_stay_valid_after_a_restart(clean_engine: AsyncEngine, tmp_path: Path):
    key_file = tmp_path / "dev-key.json"
    async with asgi_client(dev_app(clean_engine, key_file)) as first:
        tokens = await ehr_launch_tokens(first)
    async with asgi_client(dev_app(clean_engine, key_file)) as restarted:
        assert (await probe(restarted, tokens["access_token"])).status_code == 200


async def test_dev_server_is_not_found_unless_enabled(clean_engine: AsyncEngine, tmp_path: Path):
    app = dev_app(clean_engine, tmp_path / "k.json", dev_auth_enabled=False)
    async with asgi_client(app) as client:
        response = await client.get("/auth/jwks")
    assert response.status_code == 404
    assert not (tmp_path / "k.json").exists()
