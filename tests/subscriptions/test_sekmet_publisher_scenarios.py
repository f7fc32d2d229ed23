"""fhircrm as the publisher: SEKMET's subscription scenarios, run by SEKMET against fhircrm as its peer.

SEKMET subscribes on fhircrm (criteria-based, then topic-based with our encounter-finished topic), makes the
triggering changes through fhircrm's API and waits at its own /hooks endpoint for our notifications (and the
backport handshake and ``$status``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.fixtures.servers import SEKMET, fhircrm_server, free_port, write_sekmet_settings

pytestmark = pytest.mark.slow
PEER = "fhircrm"
TOPIC_VARS = [
    "--var",
    "topic=https://fhircrm.dev/SubscriptionTopic/encounter-finished",
    "--var",
    "filter_param=patient",
]


def _run_scenario(workdir: Path, database_url: str, scenario: str, extra: list[str]) -> dict:
    with fhircrm_server(database_url, embedded_worker=True, worker_poll_seconds=0.2) as server:
        config = write_sekmet_settings(
            workdir, base_url=f"http://127.0.0.1:{free_port()}/fhir", peers={PEER: {"base_url": server.base_url}}
        )
        reports = workdir / "reports"
        completed = subprocess.run(
            [
                str(SEKMET),
                "scenario",
                "run",
                scenario,
                "--peer",
                PEER,
                "--serve",
                "--config",
                str(config),
                "--report-dir",
                str(reports),
                *extra,
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=180,
        )
    output = f"exit {completed.returncode}\n{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    results = sorted(reports.glob("*/results.json"))
    assert results, f"SEKMET wrote no report:\n{output}"
    [result] = json.loads(results[-1].read_text())
    failed = [f"{s['name']}: {s['status']} {s.get('message')}" for s in result["steps"] if s["status"] != "passed"]
    assert result["status"] == "passed", f"{failed}\n{output}"
    return result


def test_sekmet_subscription_roundtrip_passes_against_fhircrm(tmp_path: Path, pg_database_url: str) -> None:
    _run_scenario(tmp_path, pg_database_url, "subscription_roundtrip", [])


def test_sekmet_backport_roundtrip_passes_against_fhircrm(tmp_path: Path, pg_database_url: str) -> None:
    result = _run_scenario(tmp_path, pg_database_url, "subscription_backport_roundtrip", TOPIC_VARS)
    assert all(step["status"] == "passed" for step in result["steps"])  # $status included (no skips)
