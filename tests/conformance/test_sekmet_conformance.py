"""SEKMET's ``conformance_smoke`` scenario, run by the third-party tool against a real fhircrm on PostgreSQL.

SEKMET runs once per module as a child process (``sekmet scenario run conformance_smoke --peer fhircrm
--no-serve``) against fhircrm served over loopback; each step of the scenario is then one test, so a failure
names the FHIR behaviour that broke and shows the checks and the HTTP exchange SEKMET recorded.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sekmet
import yaml
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.servers import SEKMET, fhircrm_server, free_port, write_sekmet_settings

pytestmark = pytest.mark.slow

SCENARIO = "conformance_smoke"
SCENARIO_FILE = Path(sekmet.__file__).parent / "scenarios" / "library" / f"{SCENARIO}.yaml"
PEER = "fhircrm"
RUN_TIMEOUT = 180
# Steps fhircrm may skip, with the reason SEKMET must give: we offer FHIR JSON only, and say so.
ALLOWED_SKIPS = {"Answers FHIR XML when asked (Accept application/fhir+xml)": "does not advertise format xml"}


def _named_steps() -> list[tuple[int, str]]:
    steps = yaml.safe_load(SCENARIO_FILE.read_text())["steps"]
    return [(index, step["name"]) for index, step in enumerate(steps, start=1) if "name" in step]


@dataclass(frozen=True)
class SmokeRun:
    returncode: int
    output: str
    result: dict  # SEKMET's JSON report for the scenario
    traffic_db: Path

    def step(self, index: int) -> dict:
        found = next((s for s in self.result["steps"] if s["index"] == index), None)
        assert found is not None, f"SEKMET reported no step {index}:\n{self.output}"
        return found

    def exchanges(self, step: dict) -> str:
        """The HTTP requests and responses SEKMET logged for ``step``, bodies shortened."""
        ids = step.get("traffic_ids") or []
        if not ids or not self.traffic_db.exists():
            return "(no traffic recorded)"
        with sqlite3.connect(self.traffic_db) as db:
            marks = ",".join("?" * len(ids))
            query = f"SELECT method, url, status, req_body, resp_body FROM traffic WHERE id IN ({marks})"
            rows = db.execute(query, ids).fetchall()
        return "\n".join(
            f"{method} {url} -> {status}\n  request: {(req or '')[:800]}\n  response: {(resp or '')[:1500]}"
            for method, url, status, req, resp in rows
        )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmokeRun]:
    """fhircrm on a fresh PostgreSQL database, and SEKMET's report of the scenario run against it."""
    workdir = tmp_path_factory.mktemp("sekmet")
    name, database_url = create_pg_database()
    try:
        with fhircrm_server(database_url) as server:
            # SEKMET's own base URL points at a port nobody serves: with --no-serve it only acts as a client.
            config = write_sekmet_settings(
                workdir,
                base_url=f"http://127.0.0.1:{free_port()}/fhir",
                peers={PEER: {"base_url": server.base_url, "timeout": 30}},
            )
            reports = workdir / "reports"
            command = [str(SEKMET), "scenario", "run", SCENARIO, "--peer", PEER, "--no-serve"]
            completed = subprocess.run(
                [*command, "--config", str(config), "--report-dir", str(reports)],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
            )
        output = f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
        results = sorted(reports.glob("*/results.json"))
        assert results, f"SEKMET wrote no report:\n{output}"
        [result] = json.loads(results[-1].read_text())
        yield SmokeRun(completed.returncode, output, result, workdir / "data" / "sekmet.db")
    finally:
        drop_pg_database(name)


@pytest.mark.parametrize(("index", "name"), _named_steps(), ids=[name for _, name in _named_steps()])
def test_conformance_smoke_step_passes(smoke_run: SmokeRun, index: int, name: str) -> None:
    step = smoke_run.step(index)
    assert step["name"] == name
    if step["status"] == "skipped" and name in ALLOWED_SKIPS:
        assert ALLOWED_SKIPS[name] in step["message"], step["message"]
        return
    checks = "\n".join(f"  [{'ok' if c['ok'] else 'FAILED'}] {c['check']} -> {c['detail']}" for c in step["checks"])
    assert step["status"] == "passed", (
        f"step {index} {name!r} is {step['status']}: {step['message']}\n{checks}\n{smoke_run.exchanges(step)}"
    )


def test_sekmet_reports_the_whole_scenario_as_passed(smoke_run: SmokeRun) -> None:
    assert (smoke_run.returncode, smoke_run.result["status"]) == (0, "passed"), smoke_run.output
