"""The README's first command, run literally from a clean copy of the working tree in a fresh virtual environment.

It must set everything up from the project's own files, load the demo clinic, answer ``/fhir/metadata`` and show
the clinic in the UI after a development SMART launch. Slow (a venv and an install): marked ``slow``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 420  # a fresh venv and install (pip's cache makes it quicker), then the load

pytestmark = pytest.mark.slow


def readme_first_command() -> str:
    """The first ```sh block of README.md: the command a newcomer copies."""
    match = re.search(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert match, "README.md has no ```sh block"
    return match.group(1).strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_checkout(target: Path) -> None:
    """The tracked and new (not ignored) files of the working tree, as they are now: uncommitted work included."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The README command running in a clean checkout; yields (root URL, stdout file). Stopped in teardown."""
    checkout = tmp_path_factory.mktemp("checkout")
    clean_checkout(checkout)
    port = free_port()
    output = checkout / "first-run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FHIRCRM_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(FHIRCRM_PORT=str(port), PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONUNBUFFERED="1")
    with output.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "-c", readme_first_command()],
            cwd=checkout,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown stops the script, pip and the server
        )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "Press Ctrl-C to stop" not in output.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"the first command exited with {process.returncode}:\n{output.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after {STARTUP_SECONDS}s:\n{output.read_text()[-3000:]}")
            time.sleep(1)
        yield root, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def test_the_readme_first_command_runs_the_demo_script() -> None:
    assert readme_first_command() == "bash scripts/run.sh"


def test_the_first_run_answers_fhir_metadata(first_run: tuple[str, Path]) -> None:
    root, _log = first_run
    response = httpx.get(f"{root}/fhir/metadata", timeout=30)
    assert response.status_code == 200
    assert response.json()["resourceType"] == "CapabilityStatement"


def backend_token(root: str, scope: str) -> str:
    """A SMART Backend Services-like token from the demo's development server (a registered confidential client)."""
    made = httpx.post(
        f"{root}/auth/register",
        json={"client_name": "first-run test", "token_endpoint_auth_method": "client_secret_basic"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    client = made.json()
    granted = httpx.post(
        f"{root}/auth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )
    assert granted.status_code == 200, granted.text
    return granted.json()["access_token"]


def test_the_first_run_api_checks_tokens(first_run: tuple[str, Path]) -> None:
    root, log = first_run
    assert "API authorization          on" in log.read_text()
    response = httpx.get(f"{root}/fhir/Patient", params={"_summary": "count"}, timeout=30)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_first_run_loads_the_demo_clinic(first_run: tuple[str, Path]) -> None:
    root, _log = first_run
    token = backend_token(root, "system/Patient.rs system/Appointment.rs")
    for resource_type in ("Patient", "Appointment"):
        response = httpx.get(
            f"{root}/fhir/{resource_type}",
            params={"_summary": "count"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.json()["total"] > 0


def test_the_first_run_shows_the_demo_clinic_after_a_development_launch(first_run: tuple[str, Path]) -> None:
    root, log = first_run
    launch = re.search(r"Patient 360 \(EHR launch\)\s+(\S+)", log.read_text())
    assert launch, "the printed URLs include a development launch"
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(launch.group(1))  # -> /auth/authorize: the development server's approval page
        assert page.status_code == 200, page.text[:500]
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
        form = {k: html.unescape(v) for k, v in fields.items()}
        patient = browser.post(str(page.url), data={**form, "decision": "approve"})
        assert patient.status_code == 200, patient.text[:500]
        assert patient.url.path == "/ui/patients/demo-pat-000001"
        worklist = browser.get(f"{root}/ui/worklist")
        assert worklist.status_code == 200
        assert "demo-pat-" in worklist.text or "/ui/patients/" in worklist.text


def test_the_first_run_signs_a_coordinator_in_by_name_without_a_patient(first_run: tuple[str, Path]) -> None:
    root, log = first_run
    sign_in = re.search(r"Clinic workspace \(sign in\)\s+(\S+)", log.read_text())
    assert sign_in, "the printed URLs include the staff sign-in"
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(sign_in.group(1))  # the approval page, with a picker of the clinic's staff by name
        people = dict(re.findall(r'<option value="(PractitionerRole/[^"]+)">([^<]+)</option>', page.text))
        assert "coordinator at" in people["PractitionerRole/demo-prrole-coord-01"]
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
        form = {k: html.unescape(v) for k, v in fields.items()}
        form.update(decision="approve", fhirUser="PractitionerRole/demo-prrole-coord-01")
        worklist = browser.post(str(page.url), data=form)
        assert worklist.status_code == 200 and worklist.url.path == "/ui/worklist"
        assert ">patient<" not in worklist.text
        inbox = browser.get(f"{root}/ui/inbox")
        assert inbox.status_code == 200 and inbox.text.count('href="/ui/inbox/threads/') >= 5
        name = html.unescape(re.search(r'class="who">([^<]+)<', inbox.text).group(1))
        assert name == people["PractitionerRole/demo-prrole-coord-01"].split(",")[0]
