"""Reverse chaining with _has: resources that other resources refer to, filtered on those others."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, observation, patient, ref, search

HEART = ("http://loinc.org", "8867-4")
TEMP = ("http://loinc.org", "8310-5")


async def test_has_finds_patients_with_a_matching_observation(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    bob = await create(client, patient())
    await create(client, patient())
    await create(client, observation(subject=ref(ada), code=HEART))
    await create(client, observation(subject=ref(bob), code=TEMP))
    found = await search(client, "Patient", {"_has:Observation:patient:code": "8867-4"})
    assert ids(found) == {ada["id"]}


async def test_has_values_are_ored(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    bob = await create(client, patient())
    await create(client, observation(subject=ref(ada), code=HEART))
    await create(client, observation(subject=ref(bob), code=TEMP))
    found = await search(client, "Patient", {"_has:Observation:patient:code": "8867-4,8310-5"})
    assert ids(found) == {ada["id"], bob["id"]}


async def test_has_ignores_deleted_referrers(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    seen = await create(client, observation(subject=ref(ada), code=HEART))
    await client.delete(f"/Observation/{seen['id']}")
    assert ids(await search(client, "Patient", {"_has:Observation:patient:code": "8867-4"})) == set()


async def test_nested_has_follows_two_links(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    await create(client, patient())
    panel = await create(client, observation(subject=ref(ada), code=TEMP))
    await create(client, observation(code=HEART, has_member=[ref(panel)]))
    name = "_has:Observation:patient:_has:Observation:has-member:code"
    assert ids(await search(client, "Patient", {name: "8867-4"})) == {ada["id"]}


async def test_has_with_a_modifier_on_the_inner_parameter(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    await create(client, observation(subject=ref(ada), code=HEART, text="Heart rate"))
    found = await search(client, "Patient", {"_has:Observation:patient:code:text": "heart"})
    assert ids(found) == {ada["id"]}


async def test_malformed_has_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_has:Observation:patient": "x"})
    assert response.status_code == 400


async def test_has_through_a_parameter_that_is_not_a_reference_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_has:Observation:code:status": "final"})
    assert response.status_code == 400


async def test_has_on_an_unknown_type_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_has:Nothing:patient:code": "x"})
    assert response.status_code == 400


async def test_a_refused_has_names_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_has:Nothing:patient:code": "x"})
    assert response.json()["issue"][0]["expression"] == ["_has:Nothing:patient:code"]
