"""Create, read, vread, update, patch and delete through the REST API, on PostgreSQL and SQLite."""

from __future__ import annotations

import httpx

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:mrn", "value": "A-1"}],
    "name": [{"family": "Okafor", "given": ["Ada"]}],
    "gender": "female",
    "birthDate": "1980-04-02",
}


async def test_create_returns_201_with_location_etag_and_server_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json=PATIENT)
    assert response.status_code == 201
    body = response.json()
    assert body["meta"]["versionId"] == "1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/Patient/{body['id']}/_history/1")
    assert "last-modified" in response.headers


async def test_read_returns_what_was_created(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.get(f"/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["content-type"].startswith("application/fhir+json")


async def test_update_creates_a_new_version_and_keeps_the_old_one(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    changed = {**created, "name": [{"family": "Okafor", "given": ["Adaeze"]}]}
    updated = await client.put(f"/Patient/{created['id']}", json=changed, headers={"If-Match": 'W/"1"'})
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"
    first = await client.get(f"/Patient/{created['id']}/_history/1")
    assert first.json()["name"][0]["given"] == ["Ada"]


async def test_stale_if_match_is_refused_with_412_and_changes_nothing(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    await client.put(f"/Patient/{created['id']}", json=created)
    stale = await client.put(
        f"/Patient/{created['id']}", json={**created, "gender": "male"}, headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert (await client.get(f"/Patient/{created['id']}")).json()["gender"] == "female"


async def test_update_with_a_client_id_creates_the_resource(client: httpx.AsyncClient) -> None:
    response = await client.put("/Patient/clinic-42", json={**PATIENT, "id": "clinic-42"})
    assert response.status_code == 201
    assert (await client.get("/Patient/clinic-42")).status_code == 200


async def test_delete_keeps_history_and_read_answers_410(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    assert (await client.delete(f"/Patient/{created['id']}")).status_code == 204
    assert (await client.get(f"/Patient/{created['id']}")).status_code == 410
    history = (await client.get(f"/Patient/{created['id']}/_history")).json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]


async def test_json_patch_changes_one_element(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.patch(
        f"/Patient/{created['id']}",
        content=b'[{"op": "replace", "path": "/gender", "value": "other"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200
    assert response.json()["gender"] == "other"
    assert response.json()["meta"]["versionId"] == "2"


async def test_invalid_resource_gets_422_pointing_at_the_element_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/Patient", json={**PATIENT, "birthDate": "1980-13-45"})
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Patient.birthDate"]
    search = (await client.get("/Patient", params={"_summary": "count"})).json()
    assert search["total"] == 0
