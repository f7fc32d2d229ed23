"""URI search: exact by default, :below for everything under a URL, :above for its ancestors."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, search, value_set

BASE = "http://acme.org/fhir/ValueSet"


async def test_uri_matches_exactly(client: httpx.AsyncClient) -> None:
    hit = await create(client, value_set(url=f"{BASE}/a"))
    await create(client, value_set(url=f"{BASE}/ab"))
    assert ids(await search(client, "ValueSet", {"url": f"{BASE}/a"})) == {hit["id"]}


async def test_below_matches_everything_under_the_url(client: httpx.AsyncClient) -> None:
    a = await create(client, value_set(url=f"{BASE}/a"))
    b = await create(client, value_set(url=f"{BASE}/b"))
    await create(client, value_set(url="http://other.org/fhir/ValueSet/a"))
    assert ids(await search(client, "ValueSet", {"url:below": BASE})) == {a["id"], b["id"]}


async def test_below_stops_at_path_segments(client: httpx.AsyncClient) -> None:
    await create(client, value_set(url="http://acme.org/fhir/ValueSetsOld/a"))
    assert ids(await search(client, "ValueSet", {"url:below": BASE})) == set()


async def test_above_matches_the_ancestors_of_the_url(client: httpx.AsyncClient) -> None:
    parent = await create(client, value_set(url="http://acme.org/fhir"))
    await create(client, value_set(url=f"{BASE}/a/child"))
    found = await search(client, "ValueSet", {"url:above": f"{BASE}/a"})
    assert ids(found) == {parent["id"]}


async def test_missing_uri_finds_resources_without_one(client: httpx.AsyncClient) -> None:
    await create(client, value_set(url=f"{BASE}/a"))
    bare = await create(client, {"resourceType": "ValueSet", "status": "draft"})
    assert ids(await search(client, "ValueSet", {"url:missing": "true"})) == {bare["id"]}


async def test_contains_modifier_is_refused_on_a_uri(client: httpx.AsyncClient) -> None:
    response = await client.get("/ValueSet", params={"url:contains": "acme"})
    assert response.status_code == 400
