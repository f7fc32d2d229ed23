"""The shipped journeys are in place after ``fhircrm migrate`` (an operator's edit survives a second one), and
a PlanDefinition write takes effect for the very next event, with no cache time-to-live in between."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.cli import cli_env, run_fhircrm
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.journeys import Clinic, at
from tests.fixtures.stores import TESTS

from fhircrm.clock import parse_fhir_datetime
from fhircrm.config import Settings
from fhircrm.db import create_engine
from fhircrm.fhir.access import ServiceScope
from fhircrm.journeys.definitions import parse_journey
from fhircrm.journeys.load import default_journey_files
from fhircrm.journeys.plandefinition import to_plan_definition
from fhircrm.shipped_content import install_default_journeys
from fhircrm.stores import open_store
from fhircrm.timers.resources import timer_key

SCOPE = ServiceScope("journeys")
SHIPPED = sorted(f"journey-{parse_journey(p.read_text()).id}" for p in default_journey_files())


@pytest.fixture(params=["postgresql", "sqlite"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database nobody has migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


async def _plan_definitions(engine: AsyncEngine, settings: Settings) -> dict[str, dict]:
    async with engine.connect() as conn:
        found = await open_store(conn, settings, policy=TESTS).match_all("PlanDefinition", "status=active")
        return {c.fhir_id: c.content for c in found}


async def test_migrate_installs_the_shipped_journeys_and_keeps_an_edited_one(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url=fresh_database_url)
    first = run_fhircrm("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "journey-appointment created" in first.stdout

    settings = Settings(environment="test", database_url=fresh_database_url)
    engine = create_engine(fresh_database_url)
    try:
        plans = await _plan_definitions(engine, settings)
        assert sorted(plans) == SHIPPED
        edited = {**plans["journey-appointment"], "title": "Our own reminders"}
        async with engine.begin() as conn:
            await open_store(conn, settings, policy=TESTS).update("PlanDefinition", "journey-appointment", edited)

        second = run_fhircrm("migrate", env=env, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "journey-appointment kept" in second.stdout
        assert "journey-chronic-care current" in second.stdout
        after = await _plan_definitions(engine, settings)
        assert after["journey-appointment"]["title"] == "Our own reminders"
        assert after["journey-appointment"]["meta"]["versionId"] == "2"  # not rewritten
        assert after["journey-chronic-care"]["meta"]["versionId"] == "1"  # unchanged: no new version either
    finally:
        await engine.dispose()


async def test_an_unedited_journey_follows_the_shipped_one(clean_engine: AsyncEngine, database_url: str) -> None:
    settings = Settings(environment="test", database_url=database_url)
    assert set((await install_default_journeys(clean_engine, settings)).values()) == {"created"}
    async with clean_engine.begin() as conn:  # as an older fhircrm would have shipped it (same tag, older text)
        store = open_store(conn, settings, policy=TESTS)
        current = (await store.read("PlanDefinition", "journey-result-follow-up")).content or {}
        older = {**current, "description": "an older release's words"}
        older["meta"] = {"tag": current["meta"]["tag"]}
        await store.update("PlanDefinition", "journey-result-follow-up", older)
    again = await install_default_journeys(clean_engine, settings)
    assert again["journey-result-follow-up"] == "kept"  # its tag no longer matches its text: someone edited it
    assert {v for k, v in again.items() if k != "journey-result-follow-up"} == {"current"}


async def test_a_booking_right_after_a_journey_change_gets_the_new_timers(clinic: Clinic) -> None:
    patient = await clinic.patient()
    before = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()  # the worker now holds the shipped journeys
    assert _remind_due(await _timers(clinic, before)) == at(20, 15) - timedelta(hours=24)

    yaml_text = (Path(default_journey_files()[0]).parent / "appointment.yaml").read_text()
    changed = to_plan_definition(parse_journey(yaml_text.replace("at: start - 24h", "at: start - 48h")))
    await clinic.write(changed)
    after = await clinic.appointment(patient, start=at(22, 15))
    await clinic.process_events()
    assert _remind_due(await _timers(clinic, after)) == at(22, 15) - timedelta(hours=48)


async def _timers(clinic: Clinic, appointment: dict) -> list[dict]:
    return await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{appointment['id']}"})


def _remind_due(timers: list[dict]) -> object:
    [remind] = [t for t in timers if (timer_key(t) or "").split(":")[1] == "remind"]
    return parse_fhir_datetime(remind["occurrenceDateTime"])
