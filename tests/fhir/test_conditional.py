"""Conditional create, update, patch and delete through the REST API."""

from __future__ import annotations

import httpx
from tests.fhir.bundles import patient


async def total(client: httpx.AsyncClient) -> int:
    return (await client.get("/Patient", params={"_summary": "count"})).json()["total"]


async def test_conditional_create_with_no_match_creates(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json=patient("C-1"), headers={"If-None-Exist": "identifier=urn:mrn|C-1"})
    assert response.status_code == 201
    assert await total(client) == 1


async def test_conditional_create_with_one_match_returns_it_with_200(client: httpx.AsyncClient) -> None:
    existing = (await client.post("/Patient", json=patient("C-2"))).json()
    response = await client.post("/Patient", json=patient("C-2"), headers={"If-None-Exist": "identifier=urn:mrn|C-2"})
    assert response.status_code == 200
    assert response.json()["id"] == existing["id"]
    assert response.headers["etag"] == 'W/"1"'
    assert await total(client) == 1


async def test_conditional_create_with_several_matches_fails_with_412(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("C-3"))
    await client.post("/Patient", json=patient("C-3"))
    response = await client.post("/Patient", json=patient("C-3"), headers={"If-None-Exist": "identifier=urn:mrn|C-3"})
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    assert await total(client) == 2


async def test_conditional_create_with_an_unknown_parameter_fails_with_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json=patient("C-4"), headers={"If-None-Exist": "shoe-size=42"})
    assert response.status_code == 400
    assert await total(client) == 0


async def test_conditional_update_with_one_match_updates_it_without_an_id_in_the_body(
    client: httpx.AsyncClient,
) -> None:
    existing = (await client.post("/Patient", json=patient("U-1"))).json()
    response = await client.put("/Patient", params={"identifier": "urn:mrn|U-1"}, json=patient("U-1", gender="male"))
    assert response.status_code == 200
    assert response.json()["id"] == existing["id"]
    assert response.json()["meta"]["versionId"] == "2"


async def test_conditional_update_with_no_match_creates(client: httpx.AsyncClient) -> None:
    response = await client.put("/Patient", params={"identifier": "urn:mrn|U-2"}, json=patient("U-2"))
    assert response.status_code == 201
    assert response.headers["location"].endswith("/_history/1")
    assert await total(client) == 1


async def test_conditional_update_with_several_matches_fails_with_412(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("U-3"))
    await client.post("/Patient", json=patient("U-3"))
    response = await client.put("/Patient", params={"identifier": "urn:mrn|U-3"}, json=patient("U-3", gender="male"))
    assert response.status_code == 412
    found = (await client.get("/Patient", params={"gender": "male"})).json()
    assert found.get("entry", []) == []


async def test_conditional_update_with_a_different_id_in_the_body_fails_with_400(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("U-4"))
    response = await client.put("/Patient", params={"identifier": "urn:mrn|U-4"}, json=patient("U-4", id="other"))
    assert response.status_code == 400
    assert await total(client) == 1


async def test_conditional_update_honours_if_match(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("U-5"))
    response = await client.put(
        "/Patient", params={"identifier": "urn:mrn|U-5"}, json=patient("U-5"), headers={"If-Match": 'W/"3"'}
    )
    assert response.status_code == 412


async def test_conditional_patch_patches_the_one_match(client: httpx.AsyncClient) -> None:
    existing = (await client.post("/Patient", json=patient("PA-1"))).json()
    response = await client.patch(
        "/Patient",
        params={"identifier": "urn:mrn|PA-1"},
        content=b'[{"op": "add", "path": "/gender", "value": "female"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200
    assert (await client.get(f"/Patient/{existing['id']}")).json()["gender"] == "female"


async def test_conditional_delete_deletes_the_one_match(client: httpx.AsyncClient) -> None:
    existing = (await client.post("/Patient", json=patient("D-1"))).json()
    response = await client.delete("/Patient", params={"identifier": "urn:mrn|D-1"})
    assert response.status_code == 200
    assert (await client.get(f"/Patient/{existing['id']}")).status_code == 410


async def test_conditional_delete_of_several_without_prefer_fails_with_412(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("D-2"))
    await client.post("/Patient", json=patient("D-2"))
    response = await client.delete("/Patient", params={"identifier": "urn:mrn|D-2"})
    assert response.status_code == 412
    assert await total(client) == 2


async def test_conditional_delete_of_several_with_prefer_multiple_deletes_them_all(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post("/Patient", json=patient("D-3"))
    keep = (await client.post("/Patient", json=patient("D-4"))).json()
    response = await client.delete(
        "/Patient", params={"identifier": "urn:mrn|D-3"}, headers={"Prefer": "delete=multiple"}
    )
    assert response.status_code == 200
    assert "3" in response.json()["issue"][0]["diagnostics"]
    remaining = (await client.get("/Patient")).json()
    assert [e["resource"]["id"] for e in remaining["entry"]] == [keep["id"]]


async def test_conditional_delete_with_no_match_deletes_nothing(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("D-5"))
    response = await client.delete("/Patient", params={"identifier": "urn:mrn|nobody"})
    assert response.status_code == 200
    assert await total(client) == 1


async def test_conditional_delete_without_criteria_fails_with_400(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("D-6"))
    assert (await client.delete("/Patient")).status_code == 400
    assert await total(client) == 1
