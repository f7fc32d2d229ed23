"""History at instance, type and system level, with _since, _count and paging."""

from __future__ import annotations

import asyncio

import httpx
from tests.fhir.bundles import observation, patient


async def follow(client: httpx.AsyncClient, url: str, **params: str) -> list[dict]:
    """Every entry of a history, following the next links to the end."""
    page = (await client.get(url, params=params)).json()
    entries = list(page.get("entry", []))
    while next_link := next((link["url"] for link in page["link"] if link["relation"] == "next"), None):
        page = (await client.get(next_link)).json()
        entries += page.get("entry", [])
    return entries


async def test_instance_history_lists_every_version_newest_first(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("H-1"))).json()
    await client.put(f"/Patient/{created['id']}", json={**created, "gender": "male"})
    await client.delete(f"/Patient/{created['id']}")
    history = (await client.get(f"/Patient/{created['id']}/_history")).json()
    assert history["type"] == "history"
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT", "POST"]
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"3"', 'W/"2"', 'W/"1"']
    assert "resource" not in history["entry"][0]


async def test_type_history_holds_only_that_type(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("H-2"))).json()
    await client.post("/Observation", json=observation(f"Patient/{created['id']}"))
    history = (await client.get("/Patient/_history")).json()
    assert {e["resource"]["resourceType"] for e in history["entry"]} == {"Patient"}


async def test_system_history_holds_every_type(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("H-3"))).json()
    await client.post("/Observation", json=observation(f"Patient/{created['id']}"))
    history = (await client.get("/_history")).json()
    assert sorted(e["resource"]["resourceType"] for e in history["entry"]) == ["Observation", "Patient"]


async def test_history_pages_follow_next_links_through_every_version(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("H-4"))).json()
    for n in range(6):
        await client.put(f"/Patient/{created['id']}", json={**created, "birthDate": f"200{n}-01-01"})
    for url in (f"/Patient/{created['id']}/_history", "/Patient/_history", "/_history"):
        entries = await follow(client, url, _count="2")
        assert [e["response"]["etag"] for e in entries] == [f'W/"{v}"' for v in range(7, 0, -1)]


async def test_history_since_leaves_out_older_versions(client: httpx.AsyncClient) -> None:
    old = (await client.post("/Patient", json=patient("H-5"))).json()
    await asyncio.sleep(0.01)
    new = (await client.post("/Patient", json=patient("H-6"))).json()
    since = new["meta"]["lastUpdated"]
    for url in ("/Patient/_history", "/_history"):
        entries = await follow(client, url, _since=since)
        assert [e["resource"]["id"] for e in entries] == [new["id"]]
    assert old["meta"]["lastUpdated"] < since


async def test_history_count_limits_the_page(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await client.post("/Patient", json=patient(f"H-7{i}"))
    page = (await client.get("/Patient/_history", params={"_count": "2"})).json()
    assert len(page["entry"]) == 2
    assert any(link["relation"] == "next" for link in page["link"])


async def test_history_of_an_unknown_resource_answers_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/Patient/nobody/_history")).status_code == 404


async def test_history_with_a_bad_since_answers_400(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_history", params={"_since": "yesterday"})).status_code == 400
