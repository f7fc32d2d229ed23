"""Bulk Data Access 2.0 $export at system, Patient and Group level: kick-off, status, manifest, files, cancel,
parameters, refusals; on PostgreSQL and SQLite, with the worker's steps run in-process."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.bulk.clinic import PATIENTS, clinic, download, manifest_of, run_bulk_jobs, seed, stored, type_hashes

ASYNC = {"Prefer": "respond-async"}


async def kick_off(client: httpx.AsyncClient, path: str, **params: str) -> str:
    response = await client.get(path, params=params, headers=ASYNC)
    assert response.status_code == 202, response.text
    return response.headers["Content-Location"]


async def export(client: httpx.AsyncClient, app: FastAPI, path: str, **params: str) -> tuple[dict, list[dict]]:
    location = await kick_off(client, path, **params)
    manifest = await manifest_of(client, location, app.state.engine, app.state.settings)
    return manifest, await download(client, manifest)


@pytest.fixture
async def seeded(clean_engine: AsyncEngine) -> list[dict]:
    resources = clinic()
    await seed(clean_engine, resources)
    return resources


async def test_kick_off_without_prefer_respond_async_is_400(client: httpx.AsyncClient) -> None:
    for path in ("/$export", "/Patient/$export", "/Group/g1/$export"):
        response = await client.get(path)
        assert response.status_code == 400
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        assert "respond-async" in body["issue"][0]["diagnostics"]


async def test_system_export_holds_every_resource_with_a_manifest(
    client: httpx.AsyncClient, app: FastAPI, seeded: list[dict]
) -> None:
    location = await kick_off(client, "/$export")
    assert "/fhir/$bulk-status/" in location
    running = await client.get(location)
    assert running.status_code == 202
    assert running.headers["X-Progress"] == "0 resources exported"
    assert int(running.headers["Retry-After"]) > 0
    manifest = await manifest_of(client, location, app.state.engine, app.state.settings)
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/$export")
    assert manifest["transactionTime"].endswith("Z")
    assert manifest["error"] == []
    assert {item["type"] for item in manifest["output"]} == {r["resourceType"] for r in seeded}
    exported = await download(client, manifest)
    assert type_hashes(exported) == type_hashes(await stored(app.state.engine))


async def test_steps_split_an_export_into_files_and_lose_nothing(
    client: httpx.AsyncClient, app: FastAPI, seeded: list[dict]
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"bulk_step_resources": 4})
    manifest, exported = await export(client, app, "/$export", _type="Observation,Patient")
    observations = [item for item in manifest["output"] if item["type"] == "Observation"]
    assert [item["count"] for item in observations] == [4, 4, 1]
    assert sorted(r["id"] for r in exported) == sorted(
        r["id"] for r in seeded if r["resourceType"] in ("Observation", "Patient")
    )


async def test_type_since_and_type_filter_narrow_the_export(
    client: httpx.AsyncClient, app: FastAPI, seeded: list[dict]
) -> None:
    _, exported = await export(
        client, app, "/$export", _type="Observation", _typeFilter="Observation?category=laboratory"
    )
    assert sorted(r["id"] for r in exported) == [f"obs-{p}-0" for p in PATIENTS]
    _, none_since = await export(client, app, "/$export", _type="Patient", _since="2999-01-01T00:00:00Z")
    assert none_since == []
    _, ndjson = await export(client, app, "/$export", _type="Encounter", _outputFormat="application/ndjson")
    assert len(ndjson) == len(PATIENTS)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"_outputFormat": "text/csv"}, "_outputFormat"),
        ({"_type": "Nope"}, "_type"),
        ({"_typeFilter": "Observation?nope=1"}, "_typeFilter"),
        ({"_since": "yesterday"}, "_since"),
        ({"patient": "Patient/p1"}, "patient"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: httpx.AsyncClient, clean_engine: AsyncEngine, params: dict, named: str
) -> None:
    response = await client.get("/$export", params=params, headers=ASYNC)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert named in issue["diagnostics"] or named in issue.get("expression", [""])[0]


async def test_patient_export_holds_the_compartments_only(
    client: httpx.AsyncClient, app: FastAPI, seeded: list[dict]
) -> None:
    _, exported = await export(client, app, "/Patient/$export")
    types = {r["resourceType"] for r in exported}
    assert "Practitioner" not in types  # outside the Patient compartment; the Group is in it (member)
    assert sorted(r["id"] for r in exported) == sorted(r["id"] for r in seeded if r["resourceType"] != "Practitioner")
    response = await client.get("/Patient/$export", params={"_type": "Practitioner"}, headers=ASYNC)
    assert response.status_code == 400


async def test_group_export_holds_its_members_only(client: httpx.AsyncClient, app: FastAPI, seeded: list[dict]) -> None:
    _, exported = await export(client, app, "/Group/g1/$export")
    ids = {r["id"] for r in exported}
    assert {"p1", "p2", "obs-p1-0", "appt-p2", "msg-p1", "enc-p2"} <= ids
    assert not any("p3" in i for i in ids)
    missing = await client.get("/Group/nope/$export", headers=ASYNC)
    assert missing.status_code == 404


async def test_delete_cancels_and_drops_the_files(client: httpx.AsyncClient, app: FastAPI, seeded: list[dict]) -> None:
    location = await kick_off(client, "/$export")
    manifest = await manifest_of(client, location, app.state.engine, app.state.settings)
    file_url = manifest["output"][0]["url"]
    cancelled = await client.delete(location)
    assert cancelled.status_code == 202
    assert (await client.get(location)).status_code == 404
    assert (await client.get(file_url)).status_code == 404
    # cancelled before the worker ran: the worker writes nothing
    second = await kick_off(client, "/$export")
    assert (await client.delete(second)).status_code == 202
    await run_bulk_jobs(app.state.engine, app.state.settings)
    assert (await client.get(second)).status_code == 404


async def test_capability_statement_advertises_the_bulk_operations(client: httpx.AsyncClient) -> None:
    rest = (await client.get("/metadata")).json()["rest"][0]
    system = {op["name"]: op["definition"] for op in rest["operation"]}
    assert system["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    assert "import" in system
    by_type = {r["type"]: r for r in rest["resource"]}
    patient_ops = {op["name"]: op["definition"] for op in by_type["Patient"]["operation"]}
    group_ops = {op["name"]: op["definition"] for op in by_type["Group"]["operation"]}
    assert patient_ops["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
    assert group_ops["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"


async def test_expired_jobs_and_their_files_are_purged(
    client: httpx.AsyncClient, app: FastAPI, seeded: list[dict]
) -> None:
    import sqlalchemy as sa

    from fhircrm.bulk import jobs
    from fhircrm.bulk.tables import bulk_file, bulk_job

    location = await kick_off(client, "/$export", _type="Patient")
    manifest = await manifest_of(client, location, app.state.engine, app.state.settings)
    job_id = location.rsplit("/", 1)[1]
    async with app.state.engine.begin() as conn:
        expires = (await conn.execute(sa.select(bulk_job.c.expires_at).where(bulk_job.c.id == job_id))).scalar_one()
        assert expires is not None  # set when the job finished
        await conn.execute(sa.update(bulk_job).values(expires_at=expires.replace(year=2000)))
    assert (await client.get(manifest["output"][0]["url"])).status_code == 404  # expired: gone at once
    async with app.state.engine.begin() as conn:
        assert await jobs.purge(conn) == 1
        assert (await conn.execute(sa.select(sa.func.count()).select_from(bulk_file))).scalar_one() == 0
    assert (await client.get(location)).status_code == 404


@pytest.mark.parametrize("job_id", ["nope", "%00", "2d8e1c4a-0000-4000-8000-000000000000", "x" * 300])
async def test_unknown_status_and_file_urls_are_404(
    client: httpx.AsyncClient, clean_engine: AsyncEngine, job_id: str
) -> None:
    assert (await client.get(f"/$bulk-status/{job_id}")).status_code == 404
    assert (await client.delete(f"/$bulk-status/{job_id}")).status_code == 404
    assert (await client.get(f"/$bulk-files/{job_id}/%C2%B2")).status_code == 404
