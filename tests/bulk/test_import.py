"""Bulk import: ``fhircrm import`` (a subprocess) and the ``$import`` kick-off, with a per-line report of what
was refused; the round trip export -> import into a fresh database gives identical resources at every level."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.bulk.clinic import (
    clinic,
    download,
    manifest_of,
    seed,
    serve_directory,
    stored,
    type_hashes,
    write_ndjson,
)
from tests.fixtures.cli import FHIRCRM, cli_env, run_fhircrm
from tests.fixtures.database import create_pg_database, drop_pg_database

from fhircrm.db import create_engine

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
async def fresh_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Another, empty database of the same kind as the session's (the CLI migrates it)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


async def exported_files(client: httpx.AsyncClient, app: FastAPI, path: str, folder: Path) -> list[dict]:
    response = await client.get(path, headers=ASYNC)
    assert response.status_code == 202, response.text
    manifest = await manifest_of(client, response.headers["Content-Location"], app.state.engine, app.state.settings)
    resources = await download(client, manifest)
    files = [
        (f"{n:03d}-{item['type']}.ndjson", (await client.get(item["url"])).text)
        for n, item in enumerate(manifest["output"])
    ]
    _save(folder, files)
    return resources


@pytest.mark.parametrize("level", ["/$export", "/Patient/$export", "/Group/g1/$export"])
async def test_export_then_import_into_a_fresh_database_gives_identical_resources(
    client: httpx.AsyncClient, app: FastAPI, clean_engine: AsyncEngine, fresh_url: str, tmp_path: Path, level: str
) -> None:
    await seed(clean_engine, clinic())
    exported = await exported_files(client, app, level, tmp_path / "files")
    assert exported
    result = run_fhircrm("import", str(tmp_path / "files"), env=cli_env(database_url=fresh_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"imported {len(exported)} resources from" in result.stdout
    assert "0 line(s) refused" in result.stdout
    engine = create_engine(fresh_url)
    try:
        imported = await stored(engine)
    finally:
        await engine.dispose()
    assert type_hashes(imported) == type_hashes(exported)
    source = {r["id"] for r in exported}
    assert type_hashes(r for r in await stored(clean_engine) if r["id"] in source) == type_hashes(imported)
    again = run_fhircrm("import", str(tmp_path / "files"), env=cli_env(database_url=fresh_url), cwd=tmp_path)
    assert again.returncode == 0
    assert again.stdout.startswith("already imported")


async def test_cli_reports_each_refused_line_without_phi(
    clean_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.ndjson"
    source.write_bytes(
        b'{"resourceType": "Patient", "id": "ok-1", "name": [{"family": "Okafor"}]}\n'
        b"this is not json Okafor\n"
        b'{"resourceType": "Patient", "id": "bad-1", "name": "Okafor"}\n'
        b"\n"
        b'{"resourceType": "Nope", "id": "x"}\n'
        b'{"resourceType": "Patient", "id": "ok-2", "birthDate": "1970-01-01"}\n'
    )
    report = tmp_path / "report.ndjson"
    result = run_fhircrm(
        "import", str(source), "--report", str(report), env=cli_env(database_url=database_url), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "imported 2 resources from 1 input(s)" in result.stdout
    assert "3 line(s) refused" in result.stdout
    outcomes = [orjson.loads(line) for line in report.read_text().splitlines()]
    lines = sorted(o["extension"][0]["valueInteger"] for o in outcomes)
    assert lines == [2, 3, 5]
    assert all(o["resourceType"] == "OperationOutcome" for o in outcomes)
    text = report.read_text() + result.stdout + result.stderr
    assert "Okafor" not in text
    by_line = {o["extension"][0]["valueInteger"]: o["issue"][0] for o in outcomes}
    assert "mixed.ndjson line 3" in by_line[3]["diagnostics"]
    assert by_line[3]["expression"] == ["Patient.name"]
    assert {r["id"] for r in await stored(clean_engine, ["Patient"])} == {"ok-1", "ok-2"}


def _on_a_terminal(args: list[str], env: dict, cwd: Path) -> tuple[subprocess.CompletedProcess, bytes]:
    """Run with stderr on a pseudo-terminal (what a person sees), stdout captured."""
    primary, secondary = pty.openpty()
    try:
        process = subprocess.run(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=secondary, text=True, timeout=120, check=False
        )
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    return process, shown


def _save(folder: Path, files: list[tuple[str, str]]) -> None:
    folder.mkdir()
    for name, text in files:
        (folder / name).write_text(text)


async def test_cli_shows_a_progress_bar_on_a_terminal(
    clean_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    source = write_ndjson(tmp_path / "p.ndjson", [{"resourceType": "Patient", "id": f"t{n}"} for n in range(30)])
    process, shown = _on_a_terminal(
        [str(FHIRCRM), "import", str(source)], cli_env(database_url=database_url, bulk_step_resources=10), tmp_path
    )
    assert process.returncode == 0
    assert b"importing [" in shown and b"100%" in shown
    assert "imported 30 resources from 1 input(s)" in process.stdout


async def test_import_operation_pulls_ndjson_by_url_and_reports_refusals(
    client: httpx.AsyncClient, app: FastAPI, clean_engine: AsyncEngine, tmp_path: Path
) -> None:
    resources = clinic()
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    others = [r for r in resources if r["resourceType"] != "Patient"]
    write_ndjson(tmp_path / "patients.ndjson", patients)
    (tmp_path / "others.ndjson").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in others) + b'{"resourceType": "Observation", "status": 7}\n'
    )
    app.state.settings = app.state.settings.model_copy(update={"bulk_step_resources": 5})
    with serve_directory(tmp_path) as base:
        body = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
                {
                    "name": "input",
                    "part": [
                        {"name": "type", "valueCode": "Patient"},
                        {"name": "url", "valueUrl": f"{base}/patients.ndjson"},
                    ],
                },
                {"name": "input", "part": [{"name": "url", "valueUrl": f"{base}/others.ndjson"}]},
            ],
        }
        assert (await client.post("/$import", json=body)).status_code == 400  # no Prefer: respond-async
        response = await client.post("/$import", json=body, headers=ASYNC)
        assert response.status_code == 202, response.text
        location = response.headers["Content-Location"]
        assert (await client.get(location)).status_code == 202
        manifest = await manifest_of(client, location, app.state.engine, app.state.settings)
    assert manifest["extension"]["imported"] == len(resources)
    [error] = manifest["error"]
    outcome = (await client.get(error["url"])).json()
    assert outcome["extension"][0]["valueInteger"] == len(others) + 1
    assert "input 2 line" in outcome["issue"][0]["diagnostics"]
    assert type_hashes(await stored(clean_engine)) == type_hashes(resources)


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient"},
        {"output": "nope"},
        {"output": [{"type": "Patient", "url": "file:///etc/passwd"}]},
        {"output": [{"type": "Nope", "url": "https://example.org/x.ndjson"}]},
        {"output": [{"type": "Patient", "url": "http://169.254.169.254/latest/meta-data"}]},
        {"output": [{"type": ["Patient"], "url": "https://example.org/x.ndjson"}]},
        {"resourceType": "Parameters", "parameter": 7},
        {"resourceType": "Parameters", "parameter": [{"name": "input", "part": 7}]},
        {"inputFormat": ["x"], "output": []},
        {"inputFormat": "text/csv", "output": [{"type": "Patient", "url": "https://example.org/x.ndjson"}]},
    ],
)
async def test_import_kick_off_refuses_bad_inputs_with_400(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/$import", json=body, headers=ASYNC)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
