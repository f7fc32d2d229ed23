"""``fhircrm subscriptions register|list|status|delete`` typed as IT types them, against SEKMET as the EHR.

Each test names its own listener root, so the Subscriptions it finds on the shared SEKMET are its own.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures.cli import cli_env, run_fhircrm
from tests.fixtures.hapi_like import HapiLikeServer
from tests.fixtures.sekmet import NOTIFICATION_SECRET
from tests.fixtures.servers import RunningServer, sekmet_server

from fhircrm.subscriptions.templates import REPO_TEMPLATES

pytestmark = pytest.mark.slow
KINDS = 8  # templates per kind in subscriptions/


def _env(ehr: RunningServer | HapiLikeServer, database_url: str, **extra: object) -> dict[str, str]:
    root = f"http://127.0.0.1:9/crm-{uuid.uuid4().hex[:8]}"  # nobody listens: deliveries fail fast
    return cli_env(
        database_url=database_url,
        base_url=f"{root}/fhir",
        ehr_base_url=ehr.base_url,
        ehr_notification_secret=NOTIFICATION_SECRET,
        **extra,
    )


def test_register_keeps_no_topic_subscription_the_ehr_does_not_prove_and_converges(
    shared_ehr: RunningServer, database_url: str, tmp_path: Path
) -> None:
    """SEKMET advertises topics, but nobody listens at this listener root: no handshake can arrive, so each
    event gets a criteria Subscription instead (one kind per event) and the silent topic ones are removed."""
    env = _env(shared_ehr, database_url, ehr_handshake_seconds=1)
    first = run_fhircrm("subscriptions", "register", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "registering one kind per event" in first.stdout
    assert first.stdout.count("created  criteria-") == KINDS
    assert first.stdout.count("[no handshake for topic-") == KINDS
    assert "created  topic-" not in first.stdout
    assert f"{KINDS} registered, 0 failed" in first.stdout

    again = run_fhircrm("subscriptions", "register", "--json", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    results = json.loads(again.stdout)["results"]
    assert {(r["kind"], r["action"]) for r in results} == {("criteria", "existing")}
    assert len(results) == KINDS
    listed = run_fhircrm("subscriptions", "list", env=env, cwd=tmp_path).stdout.splitlines()
    assert sorted(line.split()[0] for line in listed) == sorted(r["name"] for r in results)


def test_register_against_hapi_creates_what_hapi_accepts_and_reports_the_rest(
    hapi_like: HapiLikeServer, database_url: str, tmp_path: Path
) -> None:
    """A criteria HAPI refuses (``Patient``, not a search URL: HAPI-0014) is reported with HAPI's words and left
    to polling; every other event gets its criteria Subscription; no topic ones on R4 HAPI."""
    templates = tmp_path / "subscriptions"
    shutil.copytree(REPO_TEMPLATES, templates)
    broken = templates / "criteria" / "patient-updated.json"
    broken.write_text(broken.read_text().replace('"Patient?"', '"Patient"'))
    env = _env(hapi_like, database_url, ehr_subscriptions_dir=str(templates))

    result = run_fhircrm("subscriptions", "register", env=env, cwd=tmp_path)
    assert result.returncode == 1
    [failed] = [line for line in result.stdout.splitlines() if line.startswith("failed")]
    assert failed.startswith("failed   criteria-patient-updated  the EHR refused POST Subscription: HTTP 422")
    assert 'HAPI-0014: Subscription.criteria must be in the form "{Resource Type}?[params]"' in failed
    assert "[polling covers patient-updated until it is fixed]" in failed
    assert result.stdout.count("created  criteria-") == KINDS - 1
    assert "topic-" not in result.stdout
    assert "the EHR refused: criteria-patient-updated" in result.stderr
    subs = [r for (t, _), r in hapi_like.app.resources.items() if t == "Subscription"]
    assert len(subs) == KINDS - 1

    status = run_fhircrm("subscriptions", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "polling-patient-updated  -  polling  heard=never" in status.stdout
    assert status.stdout.count("  active  ") == KINDS - 1

    again = run_fhircrm("subscriptions", "register", env=env, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stdout.count("existing criteria-") == KINDS - 1
    assert len([r for (t, _), r in hapi_like.app.resources.items() if t == "Subscription"]) == KINDS - 1


def test_register_waits_for_the_ehr_to_answer(database_url: str, tmp_path: Path) -> None:
    """``--wait-for-ehr``: an EHR that never comes up ends the wait with its error, said plainly."""
    env = cli_env(
        database_url=database_url,
        ehr_base_url="http://127.0.0.1:9/fhir",
        ehr_notification_secret=NOTIFICATION_SECRET,
        ehr_max_retries=0,
    )
    result = run_fhircrm("subscriptions", "register", "--wait-for-ehr", "1", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "waiting for the EHR" in result.stderr
    assert "the EHR is unreachable" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def strict_ehr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """SEKMET refusing invalid resources with an OperationOutcome, as HAPI does."""
    with sekmet_server(tmp_path_factory.mktemp("strict-ehr"), validation="strict") as server:
        yield server


def test_register_reports_each_refused_template_and_registers_the_rest(
    strict_ehr: RunningServer, database_url: str, tmp_path: Path
) -> None:
    templates = tmp_path / "subscriptions"
    shutil.copytree(REPO_TEMPLATES, templates)
    broken = templates / "criteria" / "patient-updated.json"
    body = json.loads(broken.read_text())
    del body["reason"]  # required in R4: the EHR refuses it with an OperationOutcome
    broken.write_text(json.dumps(body))
    env = _env(strict_ehr, database_url, ehr_subscriptions_dir=str(templates))

    result = run_fhircrm("subscriptions", "register", "--kind", "criteria", env=env, cwd=tmp_path)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed")]
    assert len(failed) == 1
    assert "criteria-patient-updated" in failed[0]
    assert "HTTP 400" in failed[0]
    assert "'reason' is required" in failed[0]  # the EHR's own diagnostics
    assert "the EHR refused: criteria-patient-updated" in result.stderr
    assert result.stdout.count("created  criteria-") == KINDS - 1


def test_list_shows_ours(shared_ehr: RunningServer, database_url: str, tmp_path: Path) -> None:
    env = _env(shared_ehr, database_url)
    empty = run_fhircrm("subscriptions", "list", env=env, cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "no fhircrm Subscriptions on the EHR" in empty.stdout
    names = ["--name", "criteria-appointment-booked", "--name", "criteria-appointment-cancelled"]
    assert run_fhircrm("subscriptions", "register", "--kind", "criteria", *names, env=env, cwd=tmp_path).returncode == 0

    listed = run_fhircrm("subscriptions", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["criteria-appointment-booked", "criteria-appointment-cancelled"]
    assert all("Subscription/" in line and "criteria=Appointment?status=" in line for line in lines)


def test_status_shows_the_ehrs_view(shared_ehr: RunningServer, database_url: str, tmp_path: Path) -> None:
    env = _env(shared_ehr, database_url)
    args = ("subscriptions", "register", "--kind", "both", "--name", "criteria-result-final")
    assert run_fhircrm(*args, env=env, cwd=tmp_path).returncode == 0

    status = run_fhircrm("subscriptions", "status", "--json", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    [row] = [r for r in json.loads(status.stdout) if r["status"] != "polling"]  # events left to polling: all listed
    assert row["name"] == "criteria-result-final"
    assert row["criteria"] == "DiagnosticReport?status=final"
    assert row["status"] in ("requested", "active", "error")


def test_delete_removes_ours(shared_ehr: RunningServer, database_url: str, tmp_path: Path) -> None:
    env = _env(shared_ehr, database_url)
    assert run_fhircrm("subscriptions", "register", "--kind", "criteria", env=env, cwd=tmp_path).returncode == 0

    deleted = run_fhircrm("subscriptions", "delete", "--name", "criteria-patient-updated", env=env, cwd=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == "deleted  criteria-patient-updated"
    rest = run_fhircrm("subscriptions", "delete", env=env, cwd=tmp_path)
    assert rest.stdout.count("deleted  criteria-") == KINDS - 1
    assert "no fhircrm Subscriptions" in run_fhircrm("subscriptions", "list", env=env, cwd=tmp_path).stdout


def test_without_an_ehr_it_says_what_to_set(database_url: str, tmp_path: Path) -> None:
    result = run_fhircrm("subscriptions", "list", env=cli_env(database_url=database_url), cwd=tmp_path)
    assert result.returncode == 1
    assert "FHIRCRM_EHR_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
