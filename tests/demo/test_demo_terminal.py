"""``fhircrm demo`` as a newcomer runs it, in a terminal: the banner with the URLs stays readable, because the
scheduler's and HTTP clients' INFO lines are off unless ``--verbose`` asks for them."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.fixtures.cli import FHIRCRM, cli_env
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.slow
BANNER_END = "Press Ctrl-C to stop."


def test_the_demo_terminal_shows_the_urls_and_no_scheduler_chatter(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "terminal.txt"
    env = cli_env(timers_sweep_seconds="0.5")  # the scheduler runs its jobs many times while we watch
    env.pop("FHIRCRM_ENVIRONMENT")  # as a newcomer runs it: the demo's own defaults, SQLite under ./fhircrm-data
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(FHIRCRM), "demo", "--port", str(port), "--patients", "10", "--days", "20"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 300
            while BANNER_END not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert BANNER_END in log.read_text(), log.read_text()[-3000:]
            time.sleep(3)  # let the worker's periodic jobs run a few times (every 0.5 s)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    lines = log.read_text().splitlines()
    assert [line for line in lines if "apscheduler" in line.lower()] == []
    assert [line for line in lines if " INFO httpx " in line or " INFO alembic" in line] == []
    assert f"http://127.0.0.1:{port}/fhir/metadata" in log.read_text()
    assert f"http://127.0.0.1:{port}/app/sign-in" in log.read_text()
    after_banner = lines[lines.index(BANNER_END) + 1 :]
    assert len(after_banner) < 10, after_banner  # the URLs have not scrolled away
    assert "Traceback" not in log.read_text()  # Ctrl-C, as the banner says, stops it cleanly
    assert process.returncode == 0
