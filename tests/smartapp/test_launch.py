"""The SMART App Launch from the app's side, against the development authorization server in the same app:
discovery, PKCE S256, state and aud, tokens kept server-side, and the launch context opening the right patient.
Runs on PostgreSQL and SQLite (sessions live in the database)."""

from __future__ import annotations

import hashlib

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from tests.fixtures.browser import COORDINATOR, DEMO_PATIENT, approve, ehr_launch, local, start_launch

from fhircrm.smartapp.client import LaunchRefused, ServerConfig, exchange_code
from fhircrm.smartapp.sessions import COOKIE
from fhircrm.smartapp.tables import smartapp_session


async def test_an_ehr_launch_lands_on_the_launch_patients_360(browser_client: httpx.AsyncClient) -> None:
    response = await ehr_launch(browser_client)
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/patients/{DEMO_PATIENT}"
    page = await browser_client.get(response.headers["location"])
    assert page.status_code == 200
    assert 'id="patient-name"' in page.text


async def test_the_authorize_request_uses_pkce_s256_state_and_the_fhir_server_as_audience(
    browser_client: httpx.AsyncClient,
) -> None:
    params = await start_launch(browser_client, patient=DEMO_PATIENT)
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["aud"] == "http://testserver/fhir"
    assert len(params["state"]) >= 32
    assert "launch" in params["scope"].split()


async def test_tokens_stay_on_the_server_and_the_browser_gets_only_an_opaque_cookie(
    browser_client: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    response = await ehr_launch(browser_client)
    cookie = response.cookies[COOKIE]
    assert "access_token" not in response.text and "eyJ" not in cookie
    key = hashlib.sha256(cookie.encode()).hexdigest()  # stored by hash only
    async with demo_app.state.engine.connect() as conn:
        data = (await conn.execute(sa.select(smartapp_session.c.data).where(smartapp_session.c.id == key))).scalar_one()
        raw = (await conn.execute(sa.select(smartapp_session.c.id).where(smartapp_session.c.id == cookie))).first()
    assert data["access_token"] and data["patient"] == DEMO_PATIENT
    assert data["fhir_user"] == COORDINATOR  # from the verified id_token
    assert raw is None


async def test_a_callback_with_a_wrong_state_is_refused_and_signs_nobody_in(
    browser_client: httpx.AsyncClient,
) -> None:
    params = await start_launch(browser_client, patient=DEMO_PATIENT)
    callback = httpx.URL(await approve(browser_client, params))
    forged = callback.copy_set_param("state", "not-the-state-we-sent")
    response = await browser_client.get(local(str(forged)))
    assert response.status_code == 400
    assert "state" in response.text
    assert (await browser_client.get(f"/ui/patients/{DEMO_PATIENT}")).status_code == 401


async def test_a_callback_in_another_browser_is_refused(browser_client: httpx.AsyncClient, demo_app: FastAPI) -> None:
    params = await start_launch(browser_client, patient=DEMO_PATIENT)
    callback = await approve(browser_client, params)
    transport = httpx.ASGITransport(app=demo_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as stranger:
        response = await stranger.get(local(callback))
    assert response.status_code == 400


async def test_a_state_works_only_once(browser_client: httpx.AsyncClient) -> None:
    params = await start_launch(browser_client, patient=DEMO_PATIENT)
    callback = local(await approve(browser_client, params))
    assert (await browser_client.get(callback)).status_code == 303
    assert (await browser_client.get(callback)).status_code == 400


async def test_a_code_exchange_without_the_pkce_verifier_is_refused(
    browser_client: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    params = await start_launch(browser_client, patient=DEMO_PATIENT)
    code = httpx.URL(await approve(browser_client, params)).params["code"]
    config = ServerConfig("http://testserver/fhir", "", "http://testserver/auth/token", None, None)
    for verifier in ("", "x" * 43):  # missing: the app will not ask; wrong: the server refuses
        try:
            await exchange_code(
                demo_app.state.http,
                config,
                code=code,
                verifier=verifier,
                redirect_uri=params["redirect_uri"],
                client_id=params["client_id"],
            )
        except LaunchRefused as exc:
            assert "verifier" in str(exc) or "invalid_grant" in str(exc)
        else:
            raise AssertionError("the exchange should have been refused")


async def test_a_session_launched_for_one_patient_cannot_open_another(browser_client: httpx.AsyncClient) -> None:
    await ehr_launch(browser_client, patient=DEMO_PATIENT)
    response = await browser_client.get("/ui/patients/demo-pat-000002")
    assert response.status_code == 403
    assert "another patient" in response.text


async def test_a_launch_naming_an_unknown_fhir_server_is_refused(browser_client: httpx.AsyncClient) -> None:
    response = await browser_client.get("/app/launch", params={"iss": "https://evil.example.org/fhir", "launch": "x"})
    assert response.status_code == 400


async def test_the_access_token_is_refreshed_when_it_expires(
    browser_client: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    response = await ehr_launch(browser_client)
    row = smartapp_session.c.id == hashlib.sha256(response.cookies[COOKIE].encode()).hexdigest()
    async with demo_app.state.engine.begin() as conn:
        data = (await conn.execute(sa.select(smartapp_session.c.data).where(row))).scalar_one()
        old = data["access_token"]
        await conn.execute(sa.update(smartapp_session).where(row).values(data={**data, "expires_at": 0}))
    assert (await browser_client.get(f"/ui/patients/{DEMO_PATIENT}")).status_code == 200
    async with demo_app.state.engine.connect() as conn:
        data = (await conn.execute(sa.select(smartapp_session.c.data).where(row))).scalar_one()
    assert data["access_token"] != old and data["expires_at"] > 0


async def test_pages_need_a_signed_in_session(browser_client: httpx.AsyncClient) -> None:
    for path in ("/ui/worklist", "/ui/inbox", "/ui/dashboard", "/ui/admin", f"/ui/patients/{DEMO_PATIENT}"):
        assert (await browser_client.get(path)).status_code == 401
