"""String search: starts-with ignoring case and accents by default, :contains, :exact."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, patient, search


async def test_default_matches_the_start_of_a_name_ignoring_case(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(family="Okafor"))
    await create(client, patient(family="Adeyemi"))
    assert ids(await search(client, "Patient", {"family": "oka"})) == {hit["id"]}


async def test_default_ignores_accents(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(family="Müller"))
    assert ids(await search(client, "Patient", {"family": "muller"})) == {hit["id"]}


async def test_default_does_not_match_the_middle_of_a_name(client: httpx.AsyncClient) -> None:
    await create(client, patient(family="Okafor"))
    assert ids(await search(client, "Patient", {"family": "kafor"})) == set()


async def test_name_matches_any_part_of_the_name(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(family="Okafor", given=["Adaeze"]))
    assert ids(await search(client, "Patient", {"name": "adae"})) == {hit["id"]}


async def test_contains_matches_the_middle_of_a_name(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(family="Okafor"))
    await create(client, patient(family="Smith"))
    assert ids(await search(client, "Patient", {"family:contains": "KAF"})) == {hit["id"]}


async def test_exact_matches_the_whole_value_with_its_case(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(family="Okafor"))
    await create(client, patient(family="Okaforo"))
    assert ids(await search(client, "Patient", {"family:exact": "Okafor"})) == {hit["id"]}
    assert ids(await search(client, "Patient", {"family:exact": "okafor"})) == set()


async def test_percent_and_underscore_are_literal(client: httpx.AsyncClient) -> None:
    await create(client, patient(family="Okafor"))
    assert ids(await search(client, "Patient", {"family": "%"})) == set()
    assert ids(await search(client, "Patient", {"family": "_kafor"})) == set()


async def test_address_city_matches_the_address(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(city="Lagos"))
    await create(client, patient(city="Abuja"))
    assert ids(await search(client, "Patient", {"address-city": "lag"})) == {hit["id"]}


async def test_contains_on_a_token_parameter_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"gender:contains": "ale"})
    assert response.status_code == 400
