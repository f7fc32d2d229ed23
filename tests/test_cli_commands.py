"""The commands ``fhircrm --help`` lists, each run as typed (the console script, a child process) against the
session's real database, PostgreSQL and SQLite. ``subscriptions`` has its own tests (tests/subscriptions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.cli import cli_env, run_fhircrm
from tests.fixtures.journeys import Clinic, at

from fhircrm.fhir.access import ServiceScope
from fhircrm.journeys.load import default_journey_files
from fhircrm.stores import open_store

COMMANDS = ("serve", "worker", "migrate", "subscriptions", "journeys", "timers", "noshow", "seed", "demo")


@pytest.fixture
def env(clean_engine: AsyncEngine, database_url: str) -> dict[str, str]:
    return cli_env(database_url=database_url)


async def _count(engine: AsyncEngine, database_url: str, resource_type: str) -> int:
    from fhircrm.config import Settings

    async with engine.connect() as conn:
        store = open_store(conn, Settings(environment="test", database_url=database_url), policy=ServiceScope("t"))
        return len(await store.match_all(resource_type, "status=active"))


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_fhircrm("--help", env=cli_env(), cwd=tmp_path)
    assert result.returncode == 0
    assert all(name in result.stdout for name in (*COMMANDS, "segments", "indicators"))


def test_journeys_compile_prints_a_plan_definition(tmp_path: Path) -> None:
    result = run_fhircrm("journeys", "compile", str(default_journey_files()[0]), env=cli_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["resourceType"] == "PlanDefinition"
    assert plan["id"] == "journey-appointment"


async def test_journeys_load_stores_the_shipped_journeys(
    env: dict[str, str], clean_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    result = run_fhircrm("journeys", "load", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loaded journeys: appointment, chronic-care")
    assert await _count(clean_engine, database_url, "PlanDefinition") == len(default_journey_files())


async def test_timers_sweep_dispatches_the_due_timer(clinic: Clinic, database_url: str, tmp_path: Path) -> None:
    patient = await clinic.patient()
    await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()  # plans the T-72h confirmation and the T-24h reminder
    env = cli_env(database_url=database_url)
    result = run_fhircrm("timers", "sweep", "--now", "2031-06-17T16:00:00Z", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dispatched 1 timer(s)"


async def test_segments_load_then_refresh(env: dict[str, str], tmp_path: Path) -> None:
    loaded = run_fhircrm("segments", "load", env=env, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("loaded segments: ")
    refreshed = run_fhircrm("segments", "refresh", env=env, cwd=tmp_path)
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.startswith("segments changed: ")


async def test_indicators_print_json(env: dict[str, str], tmp_path: Path) -> None:
    result = run_fhircrm("indicators", "--start", "2031-06-01", "--end", "2031-06-30", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert "2031-06-01" in json.dumps(out["slice"])
    assert isinstance(out["indicators"], dict)
    assert out["indicators"]


async def test_noshow_train_on_an_empty_store_says_why_not(env: dict[str, str], tmp_path: Path) -> None:
    result = run_fhircrm("noshow", "train", "--output", str(tmp_path / "model.json"), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("cannot train: ")
    assert not (tmp_path / "model.json").exists()
    evaluated = run_fhircrm("noshow", "evaluate", env=env, cwd=tmp_path)
    assert evaluated.returncode == 1
    assert evaluated.stdout.startswith("cannot evaluate: ")


async def test_worker_once_drains_the_queue(env: dict[str, str], tmp_path: Path) -> None:
    result = run_fhircrm("worker", "--once", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("ran ")
