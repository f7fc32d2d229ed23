"""Batch Bundles: each entry answered on its own; one failing entry leaves the others stored."""

from __future__ import annotations

import httpx
from tests.fhir.bundles import bundle, delete, get, patient, post, put


async def test_batch_keeps_the_good_entries_when_one_fails(client: httpx.AsyncClient) -> None:
    sent = bundle(
        "batch",
        post(patient("B-1")),
        post(patient("B-2", birthDate="not a date")),
        post(patient("B-3")),
    )
    response = await client.post("", json=sent)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "201 Created"]
    outcome = body["entry"][1]["response"]["outcome"]
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[1].resource.birthDate"]
    total = (await client.get("/Patient", params={"_summary": "count"})).json()["total"]
    assert total == 2


async def test_batch_entry_failing_after_a_write_is_rolled_back_alone(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("B-4"))).json()
    sent = bundle(
        "batch",
        put(f"Patient/{created['id']}", {**created, "gender": "male"}, if_match='W/"7"'),
        delete(f"Patient/{created['id']}"),
    )
    body = (await client.post("", json=sent)).json()
    assert [e["response"]["status"] for e in body["entry"]] == ["412 Precondition Failed", "204 No Content"]
    assert (await client.get(f"/Patient/{created['id']}")).status_code == 410


async def test_batch_read_of_a_missing_resource_answers_404_in_its_entry(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("B-5"))).json()
    body = (await client.post("", json=bundle("batch", get("Patient/missing"), get(f"Patient/{created['id']}")))).json()
    assert body["entry"][0]["response"]["status"] == "404 Not Found"
    assert body["entry"][0]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert body["entry"][1]["resource"]["id"] == created["id"]
    assert body["entry"][1]["response"]["etag"] == 'W/"1"'


async def test_batch_vread_returns_the_old_version(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("B-6"))).json()
    await client.put(f"/Patient/{created['id']}", json={**created, "gender": "male"})
    body = (await client.post("", json=bundle("batch", get(f"Patient/{created['id']}/_history/1")))).json()
    assert "gender" not in body["entry"][0]["resource"]
    assert body["entry"][0]["response"]["etag"] == 'W/"1"'


async def test_batch_search_counts_absolute_references_to_this_server_as_local(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("B-abs"))).json()
    absolute = {"reference": f"http://testserver/fhir/Patient/{created['id']}"}
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": absolute}
    stored = (await client.post("/Observation", json=observation)).json()
    body = (await client.post("", json=bundle("batch", get(f"Observation?subject=Patient/{created['id']}")))).json()
    searchset = body["entry"][0]["resource"]
    assert [e["resource"]["id"] for e in searchset.get("entry", [])] == [stored["id"]]
