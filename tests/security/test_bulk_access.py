"""Bulk Data and messaging under real SMART tokens: an export holds what the kicking-off client may search (a
patient app: its own compartment; a granular scope: its query), system-level export and messages need system
access, and only the client that kicked a job off reads its status and files."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.bulk.clinic import PATIENTS, clinic, download, manifest_of, run_bulk_jobs, seed

ASYNC = {"Prefer": "respond-async"}
Api = Callable[[str | None], httpx.AsyncClient]


async def kick_off(client: httpx.AsyncClient, path: str, **params: str) -> str:
    response = await client.get(path, params=params, headers=ASYNC)
    assert response.status_code == 202, response.text
    return response.headers["Content-Location"]


async def test_a_patient_app_exports_its_own_compartment_only(
    api: Api, secured: FastAPI, clean_engine: AsyncEngine
) -> None:
    from tests.security.conftest import token

    await seed(clean_engine, clinic())
    async with api(token("patient/*.rs launch/patient", patient="p1")) as client:
        location = await kick_off(client, "/Patient/$export")
        manifest = await manifest_of(client, location, clean_engine, secured.state.settings)
        exported = await download(client, manifest)
        assert exported
        for resource in exported:
            assert "p1" in str(resource) and not any(p in str(resource) for p in PATIENTS if p != "p1")
        assert {r["resourceType"] for r in exported} >= {"Patient", "Observation", "Appointment", "Communication"}
        assert (await client.get("/$export", headers=ASYNC)).status_code == 403  # system level: system tokens
        assert (await client.get("/Group/g1/$export", headers=ASYNC)).status_code == 403


async def test_a_granular_scope_narrows_the_export_to_its_query(
    api: Api, secured: FastAPI, clean_engine: AsyncEngine
) -> None:
    from tests.security.conftest import token

    await seed(clean_engine, [*clinic(), {"resourceType": "Practitioner", "id": "7"}])  # the token's fhirUser
    scopes = "user/Patient.rs user/Observation.rs?category=laboratory"
    async with api(token(scopes)) as client:
        location = await kick_off(client, "/Patient/$export")
        exported = await download(client, await manifest_of(client, location, clean_engine, secured.state.settings))
    observations = sorted(r["id"] for r in exported if r["resourceType"] == "Observation")
    assert observations == [f"obs-{p}-0" for p in PATIENTS]  # the laboratory ones only
    assert {r["resourceType"] for r in exported} == {"Patient", "Observation"}  # nothing it may not search


async def test_only_the_kicking_off_client_reads_status_and_files(
    api: Api, secured: FastAPI, clean_engine: AsyncEngine
) -> None:
    from tests.security.conftest import token

    await seed(clean_engine, clinic())
    async with api(token("system/*.rs", client_id="backend-1", sub="backend-1")) as owner:
        location = await kick_off(owner, "/$export")
        manifest = await manifest_of(owner, location, clean_engine, secured.state.settings)
        assert len(await download(owner, manifest)) == len(clinic())
    file_url = manifest["output"][0]["url"]
    async with api(token("system/*.rs", client_id="backend-1", sub="backend-1")) as same_client_new_token:
        assert (await same_client_new_token.get(file_url)).status_code == 200
    async with api(token("system/*.rs", client_id="backend-2", sub="backend-2")) as other:
        assert (await other.get(location)).status_code == 404
        assert (await other.get(file_url)).status_code == 404
        assert (await other.delete(location)).status_code == 404
    async with api(None) as anonymous:
        assert (await anonymous.get(file_url)).status_code == 401
        assert (await anonymous.get(location)).status_code == 401


async def test_system_export_needs_system_level_search(api: Api, secured: FastAPI, clean_engine: AsyncEngine) -> None:
    from tests.security.conftest import token

    async with api(token("user/Patient.rs user/Observation.rs")) as client:
        assert (await client.get("/$export", headers=ASYNC)).status_code == 403
    async with api(token("system/*.rs")) as client:
        assert (await client.get("/$export", headers=ASYNC)).status_code == 202
    assert await run_bulk_jobs(clean_engine, secured.state.settings) >= 1


async def test_only_system_clients_send_messages(api: Api, clean_engine: AsyncEngine) -> None:
    from tests.security.conftest import token

    bundle = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": "m-1",
                    "eventCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0003", "code": "A04"},
                    "source": {"endpoint": "https://ehr.example.org"},
                }
            },
            {
                "fullUrl": "urn:uuid:0f0e8a52-1e1c-4a57-9d59-2b1f8e7b1a11",
                "resource": {"resourceType": "Patient", "id": "msg-p"},
            },
        ],
    }
    for scopes, claims in (("patient/*.cruds launch/patient", {"patient": "msg-p"}), ("user/*.cruds", {})):
        async with api(token(scopes, **claims)) as client:
            assert (await client.post("/$process-message", json=bundle)).status_code == 403
    async with api(token("system/*.cruds")) as client:
        response = await client.post("/$process-message", json=bundle)
        assert response.status_code == 200
        assert response.json()["entry"][0]["resource"]["response"]["code"] == "ok"
        assert (await client.get("/Patient/msg-p")).status_code == 200


async def test_downloading_a_file_is_audited_with_the_patients_it_holds(
    api: Api, secured: FastAPI, clean_engine: AsyncEngine
) -> None:
    from tests.security.conftest import token
    from tests.security.test_audit_events import audit_events, references

    await seed(clean_engine, clinic())
    async with api(token("system/*.rs", client_id="backend-1")) as client:
        location = await kick_off(client, "/$export", _type="Appointment")
        manifest = await manifest_of(client, location, clean_engine, secured.state.settings)
        await download(client, manifest)
    events = await audit_events(clean_engine)
    [file_event] = [e for e in events if "Appointment/appt-p1" in references(e)]  # only the file holds resources
    assert (file_event["action"], file_event["outcome"]) == ("R", "0")
    assert file_event["agent"][0]["altId"] == "backend-1"
    assert {f"Appointment/appt-{p}" for p in PATIENTS} | {f"Patient/{p}" for p in PATIENTS} <= set(
        references(file_event)
    )
    assert len(events) == 3  # kick-off, status, file: every access leaves one


async def test_an_objecting_patients_engagement_data_is_left_out_of_exports_but_their_own(
    api: Api, secured: FastAPI, clean_engine: AsyncEngine
) -> None:
    from tests.security.conftest import token
    from tests.security.test_consent_exports import objection

    await seed(clean_engine, [*clinic(), objection("p1")])
    async with api(token("system/*.rs")) as client:
        location = await kick_off(client, "/$export", _type="Communication,Appointment,Consent")
        exported = await download(client, await manifest_of(client, location, clean_engine, secured.state.settings))
    ids = {f"{r['resourceType']}/{r['id']}" for r in exported}
    assert {"Appointment/appt-p1", "Consent/optout-p1", "Communication/msg-p2"} <= ids  # the record stays
    assert "Communication/msg-p1" not in ids
    async with api(token("patient/*.rs launch/patient", patient="p1")) as client:
        location = await kick_off(client, "/Patient/$export", _type="Communication")
        exported = await download(client, await manifest_of(client, location, clean_engine, secured.state.settings))
    assert [r["id"] for r in exported] == ["msg-p1"]
