"""No PHI in logs or error messages: a realistic flow (patients with names, phones and emails; an SMS in through a
signed Twilio webhook; a reply out through the local channel; searches by name, phone and email; refused input
quoting a name; an unexpected error) with every log record captured, then scanned for the values used."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.support import drain

from fhircrm.app import create_app
from fhircrm.channels.signatures import twilio_signature
from fhircrm.config import Settings

NAME_GIVEN, NAME_FAMILY = "Zephyrine", "Quillfeather"
PHONE = "+15557654321"
EMAIL = "zephyrine.q@example.net"
BODY_IN = "my rash is spreading near the scar"
BODY_OUT = "Please come in tomorrow at nine"
PHI = (NAME_GIVEN, NAME_FAMILY, PHONE, PHONE.lstrip("+"), EMAIL, BODY_IN, BODY_OUT)
PUBLIC_URL = "https://crm.example.org"
TWILIO_TOKEN = "twilio-secret"  # signatures checked; no account: replies go out through the local channel


@pytest.fixture
def phi_settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        channels_public_url=PUBLIC_URL,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_sms_from="+15005550006",
    )


@pytest.fixture
async def web(clean_engine: AsyncEngine, phi_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(phi_settings, migrate=False)
    app.state.engine = clean_engine

    @app.get("/boom")
    async def boom() -> None:  # an unexpected error whose message quotes PHI, as a bug's might
        raise ValueError(f"could not text {NAME_GIVEN} {NAME_FAMILY} at {PHONE}")

    app.router.routes.insert(0, app.router.routes.pop())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _everything_logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = []
    for record in records:
        texts.append(formatter.format(record))  # message, args and any traceback
        texts.extend(str(v) for k, v in vars(record).items() if k not in ("msg", "args", "exc_info"))
    return "\n".join(texts)


def _diagnostics(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").endswith("json") and response.status_code >= 400:
        body = response.json()
        return " ".join(i.get("diagnostics", "") for i in body.get("issue", [])) or str(body)
    return ""


async def _flow(web: httpx.AsyncClient, engine: AsyncEngine, settings: Settings) -> list[httpx.Response]:
    patient = {
        "resourceType": "Patient",
        "name": [{"given": [NAME_GIVEN], "family": NAME_FAMILY}],
        "telecom": [
            {"system": "phone", "value": PHONE, "use": "mobile"},
            {"system": "email", "value": EMAIL},
        ],
    }
    created = await web.post("/fhir/Patient", json=patient)
    assert created.status_code == 201
    form = {"MessageSid": "SM" + "4" * 32, "From": PHONE, "To": "+15005550006", "Body": BODY_IN, "NumMedia": "0"}
    signature = twilio_signature(f"{PUBLIC_URL}/channels/twilio/messages", form.items(), TWILIO_TOKEN)
    assert (
        await web.post("/channels/twilio/messages", data=form, headers={"X-Twilio-Signature": signature})
    ).status_code == 200
    await drain(engine, settings)
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    assert (await web.post(f"/api/inbox/threads/{thread['id']}/reply", json={"text": BODY_OUT})).status_code == 200
    await drain(engine, settings)  # delivered by the local channel
    responses = [
        await web.get("/fhir/Patient", params={"name": NAME_FAMILY}),
        await web.get("/fhir/Patient", params={"phone": PHONE}),
        await web.get("/fhir/Patient", params={"email": EMAIL}),
        await web.get("/fhir/Communication", params={"_content": BODY_IN}),
        # refused input that quotes PHI
        await web.post("/fhir/Patient", json={**patient, "name": [{"given": f"{NAME_GIVEN} {NAME_FAMILY}"}]}),
        await web.post("/fhir/Patient", json={**patient, "birthDate": NAME_FAMILY}),
        await web.post("/fhir/Patient", json={**patient, "telecom": [{"system": "phone", "value": int(PHONE)}]}),
        await web.post("/fhir/Patient", json={**patient, "active": NAME_GIVEN}),
        await web.get("/fhir/Patient", params={"birthdate": NAME_FAMILY}),
        await web.get("/fhir/RiskAssessment", params={"probability": NAME_FAMILY}),
        await web.get("/fhir/Patient", params={"_count": NAME_GIVEN}),
        await web.get("/fhir/Patient", params={"_sort": NAME_GIVEN}),
        await web.get("/api/inbox/changes", params={"since": NAME_FAMILY}),
        await web.post(f"/api/inbox/threads/{thread['id']}/reply", json={"text": 7, "to": EMAIL}),
        await web.get("/boom"),
    ]
    assert {r.status_code for r in responses[4:]} <= {400, 422, 500}
    assert responses[-1].status_code == 500
    return responses


async def test_a_realistic_flow_logs_no_names_phones_emails_or_message_bodies(
    web: httpx.AsyncClient, clean_engine: AsyncEngine, phi_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # what `fhircrm serve` logs (INFO and up, everyone's loggers), and fhircrm's own debug records too; the
    # database drivers' DEBUG records (SQL parameters) are a debugging tool nobody runs in production
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="fhircrm")
    await _flow(web, clean_engine, phi_settings)
    assert any(r.name == "fhircrm.app" for r in caplog.records)  # the unexpected error was logged ...
    logged = _everything_logged(caplog.records)
    assert [value for value in PHI if value in logged] == []  # ... without the PHI its message quoted


async def test_error_answers_never_quote_the_submitted_values(
    web: httpx.AsyncClient, clean_engine: AsyncEngine, phi_settings: Settings
) -> None:
    responses = await _flow(web, clean_engine, phi_settings)
    diagnostics = " | ".join(_diagnostics(r) for r in responses)
    assert "expression" in str([r.json() for r in responses[4:8]])  # where the problem is, still said
    assert [value for value in PHI if value in diagnostics] == [], diagnostics


def test_fhircrm_serve_runs_uvicorn_without_access_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from fhircrm.cli import main

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    main(["serve", "--port", "0"])
    assert seen["access_log"] is False  # access logs would carry URLs, and URLs carry search values
