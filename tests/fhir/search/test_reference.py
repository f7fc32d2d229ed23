"""Reference search: Type/id, bare id, absolute URL, :[type], :identifier and :missing."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, location, observation, patient, ref, search


async def test_type_and_id_match_that_target(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    hit = await create(client, observation(subject=ref(ada)))
    await create(client, observation(subject=ref(await create(client, patient()))))
    assert ids(await search(client, "Observation", {"subject": f"Patient/{ada['id']}"})) == {hit["id"]}


async def test_bare_id_matches_a_target_of_any_type(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    hit = await create(client, observation(subject=ref(ada)))
    assert ids(await search(client, "Observation", {"subject": ada["id"]})) == {hit["id"]}


async def test_type_modifier_restricts_a_bare_id_to_that_type(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/same", json={"resourceType": "Patient", "id": "same"})
    await client.put("/Location/same", json={"resourceType": "Location", "id": "same"})
    on_patient = await create(client, observation(subject={"reference": "Patient/same"}))
    await create(client, observation(subject={"reference": "Location/same"}))
    assert ids(await search(client, "Observation", {"subject:Patient": "same"})) == {on_patient["id"]}


async def test_type_modifier_must_be_a_target_of_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"subject:Practitioner": "x"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["subject:Practitioner"]


async def test_absolute_url_to_this_server_matches_a_relative_reference(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    hit = await create(client, observation(subject=ref(ada)))
    url = f"http://testserver/fhir/Patient/{ada['id']}"
    assert ids(await search(client, "Observation", {"subject": url})) == {hit["id"]}


async def test_absolute_reference_is_found_by_its_url(client: httpx.AsyncClient) -> None:
    url = "https://ehr.example.org/fhir/Patient/123"
    hit = await create(client, observation(subject={"reference": url}))
    assert ids(await search(client, "Observation", {"subject": url})) == {hit["id"]}


async def test_absolute_reference_to_another_server_is_not_a_local_reference(client: httpx.AsyncClient) -> None:
    await create(client, observation(subject={"reference": "https://ehr.example.org/fhir/Patient/123"}))
    assert ids(await search(client, "Observation", {"subject": "Patient/123"})) == set()


async def test_identifier_modifier_matches_the_logical_reference(client: httpx.AsyncClient) -> None:
    logical = {"identifier": {"system": "urn:mrn", "value": "A-1"}}
    hit = await create(client, observation(subject=logical))
    await create(client, observation(subject={"identifier": {"system": "urn:mrn", "value": "B-2"}}))
    assert ids(await search(client, "Observation", {"subject:identifier": "urn:mrn|A-1"})) == {hit["id"]}


async def test_missing_reference_finds_resources_without_one(client: httpx.AsyncClient) -> None:
    await create(client, observation(subject=ref(await create(client, patient()))))
    orphan = await create(client, observation())
    assert ids(await search(client, "Observation", {"subject:missing": "true"})) == {orphan["id"]}


async def test_comma_separated_references_are_ored(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    ward = await create(client, location(name="Ward"))
    a = await create(client, observation(subject=ref(ada)))
    b = await create(client, observation(subject=ref(ward)))
    await create(client, observation(subject=ref(await create(client, patient()))))
    value = f"Patient/{ada['id']},Location/{ward['id']}"
    assert ids(await search(client, "Observation", {"subject": value})) == {a["id"], b["id"]}


async def test_versioned_reference_value_matches_the_resource(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    hit = await create(client, observation(subject=ref(ada)))
    value = f"Patient/{ada['id']}/_history/1"
    assert ids(await search(client, "Observation", {"subject": value})) == {hit["id"]}
