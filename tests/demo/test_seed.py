"""`fhircrm seed`'s loader: the demo clinic written through the FHIR API, read back through the API.

One clinic is seeded per database (PostgreSQL and SQLite) for the module: loading it is the expensive part and
every test here only reads it, except the last, which loads it again and checks nothing was duplicated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.api import FHIR_JSON, make_settings
from tests.fixtures.database import truncate

from fhircrm.app import create_app
from fhircrm.demo import ClinicSpec, noshow_stats
from fhircrm.demo.seed import SeedReport, demo_patient_count, seed_clinic
from fhircrm.fhir.validation import validate

SPEC = ClinicSpec(patients=80, days=120, seed=7, today=dt.date(2025, 6, 2))
COUNTED_TYPES = ("Patient", "Appointment", "Slot", "Communication", "Consent", "Coverage", "Task", "Practitioner")


@pytest.fixture(scope="module")
async def seeded(engine: AsyncEngine, database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, SeedReport]]:
    """A client on a store holding exactly the demo clinic of SPEC, loaded once through ``POST /fhir``."""
    await truncate(engine)
    app = create_app(make_settings(database_url), migrate=False)
    app.state.engine = engine
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/fhir", headers={"Accept": FHIR_JSON}
    ) as client:
        report = await seed_clinic(client, SPEC)
        yield client, report
    await truncate(engine)


async def read_all(client: httpx.AsyncClient, resource_type: str) -> list[dict[str, Any]]:
    """Every resource of a type, page by page through the searchset ``next`` links."""
    out: list[dict[str, Any]] = []
    url: str | None = f"{resource_type}?_count=1000"
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        bundle = response.json()
        out.extend(entry["resource"] for entry in bundle.get("entry", []))
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    return out


async def count(client: httpx.AsyncClient, resource_type: str) -> int:
    response = await client.get(resource_type, params={"_summary": "count"})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def test_every_seeded_resource_read_back_validates_as_fhir(seeded: tuple[httpx.AsyncClient, SeedReport]) -> None:
    client, report = seeded
    read_back = 0
    for resource_type in ("Organization", "Location", "HealthcareService", "PractitionerRole", "Schedule", "Slot",
                          "Patient", "Consent", "Coverage", "Condition", "Appointment", "Encounter", "Communication",
                          "QuestionnaireResponse", "Questionnaire", "Task", "Practitioner"):  # fmt: skip
        for resource in await read_all(client, resource_type):
            validate(resource)
            read_back += 1
    assert read_back == report.resources


async def test_every_seeded_patient_is_tagged_as_demo_data(seeded: tuple[httpx.AsyncClient, SeedReport]) -> None:
    client, _report = seeded
    assert await demo_patient_count(client) == SPEC.patients


async def test_seeded_noshow_rate_is_near_the_literatures_twenty_percent(
    seeded: tuple[httpx.AsyncClient, SeedReport],
) -> None:
    client, _report = seeded
    stats = noshow_stats(await read_all(client, "Appointment"))
    assert stats.overall.total >= 200
    assert stats.overall.rate is not None
    assert 0.15 <= stats.overall.rate <= 0.25


async def test_seeded_appointments_booked_far_ahead_are_missed_more_often(
    seeded: tuple[httpx.AsyncClient, SeedReport],
) -> None:
    client, _report = seeded
    bands = noshow_stats(await read_all(client, "Appointment")).by_lead_time
    short, long = bands["0-2"].rate, bands[">14"].rate
    assert short is not None and long is not None
    assert long >= short + 0.10


async def test_seeding_the_same_clinic_twice_duplicates_nothing(seeded: tuple[httpx.AsyncClient, SeedReport]) -> None:
    client, _report = seeded
    before = {t: await count(client, t) for t in COUNTED_TYPES}
    await seed_clinic(client, SPEC)
    assert {t: await count(client, t) for t in COUNTED_TYPES} == before
