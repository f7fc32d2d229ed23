"""Prefer: return=minimal | representation | OperationOutcome on create, update and patch."""

from __future__ import annotations

import httpx
import pytest
from tests.fhir.bundles import patient

PATCH = b'[{"op": "add", "path": "/gender", "value": "female"}]'


async def write(client: httpx.AsyncClient, kind: str, prefer: str) -> httpx.Response:
    headers = {"Prefer": f"return={prefer}"}
    if kind == "create":
        return await client.post("/Patient", json=patient("PR-1"), headers=headers)
    created = (await client.post("/Patient", json=patient("PR-1"))).json()
    if kind == "update":
        return await client.put(f"/Patient/{created['id']}", json={**created, "gender": "male"}, headers=headers)
    headers["Content-Type"] = "application/json-patch+json"
    return await client.patch(f"/Patient/{created['id']}", content=PATCH, headers=headers)


@pytest.mark.parametrize("kind", ["create", "update", "patch"])
async def test_return_minimal_sends_no_body_but_the_headers(client: httpx.AsyncClient, kind: str) -> None:
    response = await write(client, kind, "minimal")
    assert response.status_code in (200, 201)
    assert response.content == b""
    assert response.headers["etag"].startswith('W/"')
    assert "/Patient/" in response.headers["location"]
    assert response.headers["last-modified"].endswith("GMT")


@pytest.mark.parametrize("kind", ["create", "update", "patch"])
async def test_return_representation_sends_the_stored_resource(client: httpx.AsyncClient, kind: str) -> None:
    response = await write(client, kind, "representation")
    body = response.json()
    assert body["resourceType"] == "Patient"
    assert (await client.get(f"/Patient/{body['id']}")).json() == body


@pytest.mark.parametrize("kind", ["create", "update", "patch"])
async def test_return_operation_outcome_sends_an_outcome(client: httpx.AsyncClient, kind: str) -> None:
    response = await write(client, kind, "OperationOutcome")
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["severity"] == "information"
    assert "location" in response.headers


async def test_no_prefer_header_returns_the_representation(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json=patient("PR-2"))
    assert response.json()["resourceType"] == "Patient"
