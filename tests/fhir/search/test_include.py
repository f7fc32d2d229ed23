"""_include and _revinclude, with :iterate bounded, never including deleted resources or duplicates."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import (
    create,
    ids,
    location,
    observation,
    organization,
    patient,
    ref,
    search,
)

from fhircrm.fhir.sql.includes import MAX_ROUNDS


async def test_include_adds_the_referenced_resources(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    seen = await create(client, observation(subject=ref(ada)))
    found = await search(client, "Observation", {"_include": "Observation:subject"})
    assert ids(found) == {seen["id"]}
    assert ids(found, mode="include") == {ada["id"]}


async def test_include_with_a_target_type_adds_only_that_type(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    ward = await create(client, location(name="Ward"))
    await create(client, observation(subject=ref(ada)))
    await create(client, observation(subject=ref(ward)))
    found = await search(client, "Observation", {"_include": "Observation:subject:Patient"})
    assert ids(found, mode="include") == {ada["id"]}


async def test_include_star_follows_every_reference(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    other = await create(client, observation())
    seen = await create(client, observation(subject=ref(ada), has_member=[ref(other)]))
    found = await search(client, "Observation", {"_id": seen["id"], "_include": "*"})
    assert ids(found, mode="include") == {ada["id"], other["id"]}


async def test_a_resource_referenced_twice_is_included_once(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    await create(client, observation(subject=ref(ada)))
    await create(client, observation(subject=ref(ada)))
    found = await search(client, "Observation", {"_include": "Observation:subject"})
    included = [e for e in found["entry"] if e["search"]["mode"] == "include"]
    assert [e["resource"]["id"] for e in included] == [ada["id"]]


async def test_include_does_not_repeat_a_match(client: httpx.AsyncClient) -> None:
    first = await create(client, observation())
    second = await create(client, observation(has_member=[ref(first)]))
    found = await search(client, "Observation", {"_include": "Observation:has-member"})
    assert ids(found) == {first["id"], second["id"]}
    assert ids(found, mode="include") == set()


async def test_revinclude_adds_the_resources_that_refer_to_the_matches(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    seen = await create(client, observation(subject=ref(ada)))
    await create(client, observation(subject=ref(await create(client, patient()))))
    found = await search(client, "Patient", {"_id": ada["id"], "_revinclude": "Observation:subject"})
    assert ids(found) == {ada["id"]}
    assert ids(found, mode="include") == {seen["id"]}


async def test_include_iterate_follows_what_was_included(client: httpx.AsyncClient) -> None:
    clinic = await create(client, organization(name="Clinic"))
    ada = await create(client, patient(organization=ref(clinic)))
    await create(client, observation(subject=ref(ada)))
    params = [("_include", "Observation:subject"), ("_include:iterate", "Patient:organization")]
    found = await search(client, "Observation", params)
    assert ids(found, mode="include") == {ada["id"], clinic["id"]}


async def test_include_without_iterate_does_not_follow_what_was_included(client: httpx.AsyncClient) -> None:
    clinic = await create(client, organization(name="Clinic"))
    ada = await create(client, patient(organization=ref(clinic)))
    await create(client, observation(subject=ref(ada)))
    params = [("_include", "Observation:subject"), ("_include", "Patient:organization")]
    found = await search(client, "Observation", params)
    assert ids(found, mode="include") == {ada["id"]}


async def test_include_iterate_ends_on_a_cycle(client: httpx.AsyncClient) -> None:
    await client.put(
        "/Organization/a", json=organization(name="A", part_of={"reference": "Organization/b"}) | {"id": "a"}
    )
    await client.put(
        "/Organization/b", json=organization(name="B", part_of={"reference": "Organization/a"}) | {"id": "b"}
    )
    found = await search(client, "Organization", {"_id": "a", "_include:iterate": "Organization:partof"})
    assert ids(found) == {"a"}
    assert ids(found, mode="include") == {"b"}


async def test_include_iterate_stops_after_a_bounded_number_of_rounds(client: httpx.AsyncClient) -> None:
    parent = None
    chain = []
    for n in range(MAX_ROUNDS + 3):
        parent = await create(client, organization(name=f"level {n}", part_of=ref(parent) if parent else None))
        chain.append(parent["id"])
    found = await search(client, "Organization", {"_id": chain[-1], "_include:iterate": "Organization:partof"})
    assert ids(found, mode="include") == set(chain[-1 - MAX_ROUNDS : -1])


async def test_include_leaves_out_deleted_resources(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    await create(client, observation(subject=ref(ada)))
    await client.delete(f"/Patient/{ada['id']}")
    found = await search(client, "Observation", {"_include": "Observation:subject"})
    assert ids(found, mode="include") == set()


async def test_revinclude_leaves_out_deleted_resources(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    seen = await create(client, observation(subject=ref(ada)))
    await client.delete(f"/Observation/{seen['id']}")
    found = await search(client, "Patient", {"_revinclude": "Observation:subject"})
    assert ids(found, mode="include") == set()


async def test_include_does_not_follow_a_reference_to_another_server(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/123", json={"resourceType": "Patient", "id": "123"})
    await create(client, observation(subject={"reference": "https://ehr.example.org/fhir/Patient/123"}))
    found = await search(client, "Observation", {"_include": "Observation:subject"})
    assert ids(found, mode="include") == set()


async def test_include_covers_only_the_current_page(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        await create(client, observation(subject=ref(await create(client, patient()))))
    found = await search(client, "Observation", {"_include": "Observation:subject", "_count": "1"})
    (match,) = [e["resource"] for e in found["entry"] if e["search"]["mode"] == "match"]
    assert {f"Patient/{i}" for i in ids(found, mode="include")} == {match["subject"]["reference"]}


async def test_unknown_include_modifier_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"_include:sideways": "Observation:subject"})
    assert response.status_code == 400


async def test_include_of_a_parameter_that_is_not_a_reference_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"_include": "Observation:code"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["_include"]


async def test_include_without_a_parameter_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"_include": "Observation"})
    assert response.status_code == 400


async def test_include_of_an_unknown_type_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"_revinclude": "Nothing:subject"})
    assert response.status_code == 400
