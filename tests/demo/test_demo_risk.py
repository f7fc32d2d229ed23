"""The demo clinic's no-show risk: ``fhircrm demo`` assesses every seeded visit as of its booking, so the dashboard's
no-show rate by risk band has bands, not only "not assessed", and every upcoming visit on a patient's page has its
risk; a second start writes nothing. Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.database import truncate

from fhircrm.config import Settings
from fhircrm.demo.launcher import ASSESSED_STATUSES, DemoOptions, assess_seeded_visits, drain_backlog, load_if_empty
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.paging import every_match
from fhircrm.indicators.dashboard import dashboard_figures
from fhircrm.stores import open_store


async def _visits_and_risks(engine: AsyncEngine, settings: Settings) -> tuple[list[dict], list[dict]]:
    async with engine.connect() as conn:
        store = open_store(conn, settings, policy=ServiceScope("test"))
        visits = await every_match(store, "Appointment", [("status", ",".join(ASSESSED_STATUSES))])
        return visits, await every_match(store, "RiskAssessment", [])


async def test_the_demo_visits_have_risk_bands_once(engine: AsyncEngine, database_url: str, tmp_path: Path) -> None:
    await truncate(engine)
    settings = Settings(
        environment="development",
        database_url=database_url,
        dev_auth_key_file=tmp_path / "dev-key.json",
        embedded_worker=False,
    )
    await load_if_empty(settings, DemoOptions("127.0.0.1", 8123, patients=12, days=30))
    await drain_backlog(settings)  # as `fhircrm demo` does: the worker assesses what the load booked
    visits, _ = await _visits_and_risks(engine, settings)
    assert {v["status"] for v in visits} >= {"fulfilled", "noshow", "booked"}

    assert await assess_seeded_visits(settings) > 0
    visits, risks = await _visits_and_risks(engine, settings)
    assessed = {b["reference"] for r in risks for b in r.get("basis", [])}
    assert [v["id"] for v in visits if f"Appointment/{v['id']}" not in assessed] == []
    # as of its booking: a past visit's assessment is dated when it was booked, not today
    by_visit = {b["reference"]: r for r in risks for b in r.get("basis", [])}
    past = next(v for v in visits if v["status"] == "fulfilled" and v.get("created"))
    assert by_visit[f"Appointment/{past['id']}"]["occurrenceDateTime"][:10] == past["created"][:10]

    async with engine.begin() as conn:
        store = open_store(conn, settings, policy=ServiceScope("test"))
        bands = (await dashboard_figures(store, dt.datetime.now(dt.UTC)))["groups"]["band"]
    assert "not assessed" not in bands
    assert set(bands) <= {"low", "moderate", "high"} and sum(b["total"] for b in bands.values()) > 0

    assert await assess_seeded_visits(settings) == 0  # a second start adds nothing
    assert len((await _visits_and_risks(engine, settings))[1]) == len(risks)
