"""Small builders shared by the channel tests: settings, a runtime, patients, draining the worker."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.stores import TESTS

from fhircrm.config import Settings
from fhircrm.jobs.runner import JobRunner
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.worker import build_wiring

#: 16:00 UTC is noon in New York: outside quiet hours whatever the date.
NOON = datetime(2030, 3, 14, 16, 0, tzinfo=UTC)
REMINDER = {
    "patient_name": "Ana",
    "service": "cardiology",
    "clinic_name": "Demo Clinic",
    "appointment_date": "March 20",
    "appointment_time": "9:30",
}
TWILIO = {
    "twilio_account_sid": "AC0123456789abcdef0123456789abcdef",
    "twilio_auth_token": "twilio-secret",
    "twilio_sms_from": "+15005550006",
    "twilio_whatsapp_from": "+15005550007",
    "twilio_voice_from": "+15005550008",
}


def settings_for(database_url: str, **overrides: object) -> Settings:
    values = {"channels_public_url": "https://crm.example.org", **overrides}
    return Settings(environment="test", database_url=database_url, **values)


def patient_body(
    *, phone: str | None = "+15551230001", email: str | None = None, preferred: str | None = None, lang: str = "en"
) -> dict:
    telecom = []
    if phone:
        telecom.append({"system": "phone", "value": phone, "use": "mobile"})
    if email:
        telecom.append({"system": "email", "value": email})
    body: dict = {
        "resourceType": "Patient",
        "name": [{"given": ["Ana"], "family": "Test"}],
        "telecom": telecom,
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]}, "preferred": True}],
    }
    if preferred:
        body["extension"] = [
            {"url": "http://fhircrm.org/StructureDefinition/preferred-channel", "valueCode": preferred}
        ]
    return body


async def create(engine: AsyncEngine, settings: Settings, resource: dict) -> dict:
    async with engine.begin() as conn:
        return (await open_store(conn, settings, policy=TESTS).create(resource)).content or {}


async def read(engine: AsyncEngine, settings: Settings, resource_type: str, fhir_id: str) -> dict:
    async with engine.begin() as conn:
        return (await open_store(conn, settings, policy=TESTS).read(resource_type, fhir_id)).content or {}


async def search(engine: AsyncEngine, settings: Settings, resource_type: str, params: list) -> list[dict]:
    async with engine.begin() as conn:
        return (
            await open_store(conn, settings, policy=TESTS).search(resource_type, [*params, ("_count", "200")])
        ).matches


async def drain(engine: AsyncEngine, settings: Settings, http: httpx.AsyncClient | None = None) -> int:
    async with httpx.AsyncClient() if http is None else _noop(http) as client:
        registry = build_wiring(Runtime(settings, engine, client)).jobs
        return await JobRunner(engine, registry).drain()


class _noop:
    def __init__(self, http: httpx.AsyncClient):
        self.http = http

    async def __aenter__(self) -> httpx.AsyncClient:
        return self.http

    async def __aexit__(self, *exc: object) -> None:
        return None
