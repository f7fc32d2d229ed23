"""With SMART authorization on (auth_mode=jwt), the routes that authenticate their caller by other means keep
working without a bearer token (signed provider webhooks, signed survey links, web chat conversation tokens),
while every data API refuses a request without one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.support import TWILIO
from tests.fixtures.stores import TESTS
from tests.security.conftest import secured_app, token

from fhircrm.channels.signatures import twilio_signature
from fhircrm.config import Settings
from fhircrm.stores import open_store
from fhircrm.surveys import send_survey
from fhircrm.surveys.codes import NPS_URL

PUBLIC_URL = "https://crm.example.org"
PHONE = "+15551239876"


@pytest.fixture
async def jwt_app(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[FastAPI]:
    async with secured_app(clean_engine, database_url, channels_public_url=PUBLIC_URL, **TWILIO) as app:
        yield app


@pytest.fixture
async def anonymous(jwt_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """No Authorization header at all."""
    transport = httpx.ASGITransport(app=jwt_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _patient(engine: AsyncEngine, settings: Settings) -> dict:
    patient = {
        "resourceType": "Patient",
        "name": [{"given": ["Public"], "family": "Route"}],
        "telecom": [{"system": "phone", "value": PHONE, "use": "mobile"}],
        "extension": [{"url": "http://fhircrm.org/StructureDefinition/preferred-channel", "valueCode": "sms"}],
    }
    async with engine.begin() as conn:
        return (await open_store(conn, settings, policy=TESTS).create(patient)).content or {}


async def _communications(engine: AsyncEngine, settings: Settings) -> list[dict]:
    async with engine.connect() as conn:
        return (await open_store(conn, settings, policy=TESTS).search("Communication", [("_count", "100")])).matches


async def test_a_signed_twilio_webhook_is_taken_in_without_a_bearer_token(
    anonymous: httpx.AsyncClient, jwt_app: FastAPI, clean_engine: AsyncEngine
) -> None:
    settings = jwt_app.state.settings
    await _patient(clean_engine, settings)
    form = {"MessageSid": "SM" + "7" * 32, "From": PHONE, "To": TWILIO["twilio_sms_from"], "Body": "running late"}
    signature = twilio_signature(f"{PUBLIC_URL}/channels/twilio/messages", form.items(), TWILIO["twilio_auth_token"])
    response = await anonymous.post("/channels/twilio/messages", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert len(await _communications(clean_engine, settings)) == 1


async def test_the_public_survey_link_opens_and_answers_without_a_bearer_token(
    anonymous: httpx.AsyncClient, jwt_app: FastAPI, clean_engine: AsyncEngine
) -> None:
    settings = jwt_app.state.settings
    patient = await _patient(clean_engine, settings)
    async with clean_engine.begin() as conn:
        invited = await send_survey(
            open_store(conn, settings, policy=TESTS),
            patient=patient["id"],
            questionnaire_url=NPS_URL,
            touchpoint="post-visit",
            settings=settings,
            now=datetime.now(UTC),
        )
    path = urlsplit(invited.link).path
    form = await anonymous.get(path)
    assert form.status_code == 200 and 'name="nps"' in form.text
    assert (await anonymous.post(path, data={"nps": "9"})).status_code == 201


async def test_web_chat_opens_a_conversation_and_takes_messages_without_a_bearer_token(
    anonymous: httpx.AsyncClient, jwt_app: FastAPI, clean_engine: AsyncEngine
) -> None:
    opened = await anonymous.post("/channels/webchat/conversations")
    assert opened.status_code == 201
    said = await anonymous.post(
        "/channels/webchat/messages",
        json={"id": "msg-0001", "text": "hello"},
        headers={"Authorization": f"Bearer {opened.json()['token']}"},
    )
    assert said.status_code == 200 and said.json()["received"] is True
    assert len(await _communications(clean_engine, jwt_app.state.settings)) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/fhir/Patient"),
        ("GET", "/fhir/Patient/p1/$everything"),
        ("POST", "/fhir"),
        ("GET", "/api/inbox/threads"),
        ("GET", "/api/inbox/changes"),
        ("GET", "/api/inbox/stream"),
        ("GET", "/api/segments"),
        ("POST", "/api/complaints"),
        ("GET", "/api/indicators"),
    ],
)
async def test_the_data_apis_refuse_a_request_without_a_bearer_token(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anonymous.request(method, path, json={"resourceType": "Bundle"} if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_data_apis_answer_a_request_with_a_valid_bearer_token(anonymous: httpx.AsyncClient) -> None:
    bearer = {"Authorization": f"Bearer {token('user/*.cruds')}"}
    for path in ("/fhir/Patient", "/api/inbox/threads", "/api/segments", "/api/indicators"):
        assert (await anonymous.get(path, headers=bearer)).status_code == 200, path
