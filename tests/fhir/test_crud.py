"""Create, read, vread, update, patch and delete through the REST API, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio

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


async def test_concurrent_updates_of_one_resource_never_lose_a_version(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    writers = [
        client.put(f"/Patient/{created['id']}", json={**created, "birthDate": f"199{n}-01-01"}) for n in range(6)
    ]
    responses = await asyncio.gather(*writers)
    assert sorted(r.status_code for r in responses) == [200] * 6
    assert sorted(int(r.json()["meta"]["versionId"]) for r in responses) == [2, 3, 4, 5, 6, 7]
    history = (await client.get(f"/Patient/{created['id']}/_history", params={"_count": "50"})).json()
    assert len(history["entry"]) == 7
    current = (await client.get(f"/Patient/{created['id']}")).json()
    final = next(r.json() for r in responses if r.json()["meta"]["versionId"] == "7")
    assert current["birthDate"] == final["birthDate"]


async def test_concurrent_updates_with_the_same_if_match_let_exactly_one_win(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    writers = [
        client.put(f"/Patient/{created['id']}", json={**created, "gender": g}, headers={"If-Match": 'W/"1"'})
        for g in ("male", "other", "unknown")
    ]
    responses = await asyncio.gather(*writers)
    assert sorted(r.status_code for r in responses) == [200, 412, 412]
    assert (await client.get(f"/Patient/{created['id']}")).json()["meta"]["versionId"] == "2"


async def test_concurrent_creates_with_one_client_id_store_one_resource(client: httpx.AsyncClient) -> None:
    body = {**PATIENT, "id": "race-1"}
    responses = await asyncio.gather(*(client.put("/Patient/race-1", json=body) for _ in range(2)))
    assert sorted(r.status_code for r in responses) in ([200, 201], [201, 409])
    conflict = [r for r in responses if r.status_code == 409]
    assert all(r.json()["issue"][0]["code"] == "conflict" for r in conflict)
    history = (await client.get("/Patient/race-1/_history")).json()
    assert len(history["entry"]) == (1 if conflict else 2)


async def test_if_none_match_on_read_answers_304_for_the_current_version(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.get(f"/Patient/{created['id']}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304


async def test_update_without_an_id_in_the_body_is_refused_with_400(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.put(f"/Patient/{created['id']}", json=PATIENT)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.id"]


async def test_create_ignores_a_client_supplied_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json={**PATIENT, "id": "mine"})
    assert response.status_code == 201
    assert response.json()["id"] != "mine"


async def test_patch_of_a_deleted_resource_answers_410(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    await client.delete(f"/Patient/{created['id']}")
    response = await client.patch(
        f"/Patient/{created['id']}",
        content=b'[{"op": "replace", "path": "/gender", "value": "other"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 410


async def test_a_patch_whose_test_fails_answers_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.patch(
        f"/Patient/{created['id']}",
        content=b'[{"op": "test", "path": "/gender", "value": "male"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 409
    assert (await client.get(f"/Patient/{created['id']}")).json()["meta"]["versionId"] == "1"


async def test_delete_of_an_unknown_resource_answers_204(client: httpx.AsyncClient) -> None:
    assert (await client.delete("/Patient/never-was")).status_code == 204


async def test_recreating_a_deleted_resource_with_put_continues_its_versions(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/back-1", json={**PATIENT, "id": "back-1"})
    await client.delete("/Patient/back-1")
    response = await client.put("/Patient/back-1", json={**PATIENT, "id": "back-1"})
    assert response.status_code == 201
    assert response.json()["meta"]["versionId"] == "3"


async def test_a_patch_that_makes_the_resource_invalid_answers_422_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.patch(
        f"/Patient/{created['id']}",
        content=b'[{"op": "replace", "path": "/birthDate", "value": "soon"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Patient.birthDate"]
    assert (await client.get(f"/Patient/{created['id']}")).json()["meta"]["versionId"] == "1"
