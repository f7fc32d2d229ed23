"""Searches see only the current version of live resources: never deleted ones, never old values."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, patient, search


async def test_old_values_no_longer_match_after_an_update(client: httpx.AsyncClient) -> None:
    made = await create(client, patient(family="Okafor"))
    await client.put(f"/Patient/{made['id']}", json=made | {"name": [{"family": "Smith"}]})
    assert ids(await search(client, "Patient", {"family": "okafor"})) == set()
    found = await search(client, "Patient", {"family": "smith"})
    assert [e["resource"]["meta"]["versionId"] for e in found["entry"]] == ["2"]


async def test_deleted_resources_are_not_found(client: httpx.AsyncClient) -> None:
    made = await create(client, patient(family="Okafor"))
    await client.delete(f"/Patient/{made['id']}")
    assert ids(await search(client, "Patient", {"family": "okafor"})) == set()
    assert ids(await search(client, "Patient", {"_id": made["id"]})) == set()


async def test_deleted_resources_do_not_match_not_or_missing(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    await client.delete(f"/Patient/{made['id']}")
    assert ids(await search(client, "Patient", {"gender:missing": "true"})) == set()
    assert ids(await search(client, "Patient", {"gender:not": "male"})) == set()


async def test_deleted_resources_are_not_counted(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    await create(client, patient())
    await client.delete(f"/Patient/{made['id']}")
    assert (await search(client, "Patient", {"_summary": "count"}))["total"] == 1


async def test_a_recreated_resource_is_found_again(client: httpx.AsyncClient) -> None:
    made = await create(client, patient(family="Okafor"))
    await client.delete(f"/Patient/{made['id']}")
    await client.put(f"/Patient/{made['id']}", json=made)
    assert ids(await search(client, "Patient", {"family": "okafor"})) == {made["id"]}
