"""``fhircrm serve --workers N`` as typed: on PostgreSQL N processes answer requests on one port and SIGTERM stops
them all; on the embedded SQLite store it stays one process.

Which process answered a connection is read from /proc (the server side of the TCP connection belongs to one
child's file descriptors), so the product carries no debug header for it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from tests.fixtures.cli import FHIRCRM, cli_env, run_fhircrm
from tests.fixtures.servers import free_port, wait_until_up

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc to see the processes")


def workers_of(pid: int) -> set[int]:
    """The child processes of ``pid`` but multiprocessing's resource tracker."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return {p for p in found if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()}


def socket_inode(local_port: int, remote_port: int) -> str | None:
    """The inode of the established loopback socket from ``local_port`` to ``remote_port`` (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = (int(fields[1][-4:], 16), int(fields[2][-4:], 16), fields[3], fields[9])
        if state == "01" and (local, remote) == (local_port, remote_port):
            return inode
    return None


def owner_of(inode: str, pids: set[int]) -> int | None:
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:  # closed meanwhile
                continue
    return None


def served_by(port: int, pids: set[int]) -> int | None:
    """The process that answers a new connection to ``port``: one request over it, then its server-side socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b" 200 " in sock.recv(4096).split(b"\r\n", 1)[0] + b" "
        inode = socket_inode(port, sock.getsockname()[1])
        return owner_of(inode, pids) if inode else None


def test_serve_with_two_workers_answers_from_two_processes_and_stops_on_sigterm(
    pg_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = cli_env(database_url=pg_database_url, base_url=f"http://127.0.0.1:{port}/fhir")
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(FHIRCRM), "serve", "--workers", "2", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/fhir/metadata", timeout=90, alive=server)
        workers = workers_of(server.pid)
        assert len(workers) == 2

        created = httpx.post(
            f"http://127.0.0.1:{port}/fhir/Patient",
            json={"resourceType": "Patient", "name": [{"family": "Two-Workers"}]},
            headers={"Content-Type": "application/fhir+json"},
            timeout=30,
        )
        assert created.status_code == 201
        answered: set[int | None] = set()
        for _ in range(200):  # new connections until both children have taken one
            answered.add(served_by(port, workers))
            if answered >= workers:
                break
        assert answered >= workers

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
    assert b"Traceback" not in (tmp_path / "serve.log").read_bytes()


def test_serve_refuses_several_workers_on_the_embedded_sqlite_store(tmp_path: Path) -> None:
    env = cli_env(database_url=f"sqlite+aiosqlite:///{tmp_path / 'fhircrm.sqlite3'}")
    result = run_fhircrm("serve", "--workers", "2", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    assert "one process" in result.stderr


def test_serve_defaults_to_one_process_per_core_on_postgresql_and_one_on_sqlite() -> None:
    from fhircrm.cli import api_processes
    from fhircrm.config import Settings

    sqlite = Settings(environment="test", database_url="sqlite+aiosqlite:///x.sqlite3")
    postgresql = Settings(environment="test", database_url="postgresql+psycopg://postgres@127.0.0.1/x")
    assert api_processes(sqlite, None) == 1
    assert api_processes(postgresql, None) == len(os.sched_getaffinity(0))
    assert api_processes(postgresql, 3) == 3
