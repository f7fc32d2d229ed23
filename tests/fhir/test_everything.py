"""Patient/$everything: the patient and its compartment, with _count paging, _since and _type."""

from __future__ import annotations

import asyncio

import httpx
from tests.fhir.bundles import observation, patient


async def make_patient_with_records(client: httpx.AsyncClient, mrn: str) -> tuple[str, set[str]]:
    pid = (await client.post("/Patient", json=patient(mrn))).json()["id"]
    ids = {pid}
    for _ in range(3):
        ids.add((await client.post("/Observation", json=observation(f"Patient/{pid}"))).json()["id"])
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
    }
    ids.add((await client.post("/Encounter", json=encounter)).json()["id"])
    appointment = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T09:20:00Z",
        "participant": [{"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"}],
    }
    ids.add((await client.post("/Appointment", json=appointment)).json()["id"])
    return pid, ids


async def everything(client: httpx.AsyncClient, pid: str, **params: str) -> list[dict]:
    page = (await client.get(f"/Patient/{pid}/$everything", params=params)).json()
    entries = list(page.get("entry", []))
    while next_link := next((link["url"] for link in page["link"] if link["relation"] == "next"), None):
        page = (await client.get(next_link)).json()
        entries += page.get("entry", [])
    return entries


async def test_everything_returns_the_patient_first_and_its_compartment(client: httpx.AsyncClient) -> None:
    pid, ids = await make_patient_with_records(client, "EV-1")
    await make_patient_with_records(client, "EV-2")
    response = await client.get(f"/Patient/{pid}/$everything")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "searchset"
    assert body["entry"][0]["resource"]["id"] == pid
    assert {e["resource"]["id"] for e in body["entry"]} == ids


async def test_everything_pages_with_count_through_every_resource(client: httpx.AsyncClient) -> None:
    pid, ids = await make_patient_with_records(client, "EV-3")
    entries = await everything(client, pid, _count="2")
    assert entries[0]["resource"]["id"] == pid
    assert sorted(e["resource"]["id"] for e in entries) == sorted(ids)


async def test_everything_type_restricts_the_resource_types(client: httpx.AsyncClient) -> None:
    pid, _ = await make_patient_with_records(client, "EV-4")
    entries = await everything(client, pid, _type="Observation,Encounter")
    assert sorted({e["resource"]["resourceType"] for e in entries}) == ["Encounter", "Observation"]
    assert len(entries) == 4


async def test_everything_since_leaves_out_older_resources(client: httpx.AsyncClient) -> None:
    pid, _ = await make_patient_with_records(client, "EV-5")
    await asyncio.sleep(0.01)
    late = (await client.post("/Observation", json=observation(f"Patient/{pid}"))).json()
    entries = await everything(client, pid, _since=late["meta"]["lastUpdated"])
    assert [e["resource"]["id"] for e in entries] == [late["id"]]


async def test_everything_leaves_out_deleted_resources(client: httpx.AsyncClient) -> None:
    pid, ids = await make_patient_with_records(client, "EV-6")
    gone = next(iter(ids - {pid}))
    for resource_type in ("Observation", "Encounter", "Appointment"):
        await client.delete(f"/{resource_type}/{gone}")
    entries = await everything(client, pid)
    assert {e["resource"]["id"] for e in entries} == ids - {gone}


async def test_everything_by_post_with_parameters(client: httpx.AsyncClient) -> None:
    pid, _ = await make_patient_with_records(client, "EV-7")
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Appointment"}]}
    body = (await client.post(f"/Patient/{pid}/$everything", json=parameters)).json()
    assert [e["resource"]["resourceType"] for e in body["entry"]] == ["Appointment"]


async def test_everything_of_an_unknown_patient_answers_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/Patient/nobody/$everything")).status_code == 404


async def test_everything_with_an_unknown_type_answers_404(client: httpx.AsyncClient) -> None:
    pid, _ = await make_patient_with_records(client, "EV-8")
    assert (await client.get(f"/Patient/{pid}/$everything", params={"_type": "Spaceship"})).status_code == 404
