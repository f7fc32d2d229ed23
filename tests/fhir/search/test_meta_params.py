"""_tag, _profile, _security, _id and _lastUpdated: at type level and in a system-level search with _type."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, observation, patient, search

CAMPAIGN = {"system": "urn:fhircrm:campaign", "code": "flu-2025"}
PROFILE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
RESTRICTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}


async def test_tag_matches_system_and_code(client: httpx.AsyncClient) -> None:
    tagged = await create(client, patient(meta={"tag": [CAMPAIGN]}))
    await create(client, patient(meta={"tag": [{"system": "urn:other", "code": "flu-2025"}]}))
    found = await search(client, "Patient", {"_tag": "urn:fhircrm:campaign|flu-2025"})
    assert ids(found) == {tagged["id"]}


async def test_profile_matches_the_canonical_url(client: httpx.AsyncClient) -> None:
    claimed = await create(client, patient(meta={"profile": [PROFILE]}))
    await create(client, patient())
    assert ids(await search(client, "Patient", {"_profile": PROFILE})) == {claimed["id"]}


async def test_security_matches_the_label(client: httpx.AsyncClient) -> None:
    restricted = await create(client, patient(meta={"security": [RESTRICTED]}))
    await create(client, patient())
    found = await search(client, "Patient", {"_security": f"{RESTRICTED['system']}|R"})
    assert ids(found) == {restricted["id"]}


async def test_tag_not_modifier_keeps_untagged_resources(client: httpx.AsyncClient) -> None:
    await create(client, patient(meta={"tag": [CAMPAIGN]}))
    plain = await create(client, patient())
    assert ids(await search(client, "Patient", {"_tag:not": "flu-2025"})) == {plain["id"]}


async def test_system_search_by_tag_spans_resource_types(client: httpx.AsyncClient) -> None:
    person = await create(client, patient(meta={"tag": [CAMPAIGN]}))
    reading = await create(client, observation() | {"meta": {"tag": [CAMPAIGN]}})
    await create(client, patient())
    found = await search(client, "", {"_tag": "flu-2025"})
    assert ids(found) == {person["id"], reading["id"]}


async def test_system_search_with_type_keeps_those_types(client: httpx.AsyncClient) -> None:
    person = await create(client, patient(meta={"tag": [CAMPAIGN]}))
    await create(client, observation() | {"meta": {"tag": [CAMPAIGN]}})
    assert ids(await search(client, "", {"_tag": "flu-2025", "_type": "Patient"})) == {person["id"]}


async def test_system_search_with_an_unknown_type_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/", params={"_type": "Nothing"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["_type"]


async def test_system_search_by_id_finds_every_type(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/same", json={"resourceType": "Patient", "id": "same"})
    await client.put("/Observation/same", json=observation() | {"id": "same"})
    found = await search(client, "", {"_id": "same"})
    assert sorted(e["resource"]["resourceType"] for e in found["entry"]) == ["Observation", "Patient"]


async def test_id_not_modifier_excludes_that_id(client: httpx.AsyncClient) -> None:
    first = await create(client, patient())
    second = await create(client, patient())
    assert ids(await search(client, "Patient", {"_id:not": first["id"]})) == {second["id"]}


async def test_unknown_modifier_on_last_updated_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_lastUpdated:exact": "2025"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["_lastUpdated:exact"]
