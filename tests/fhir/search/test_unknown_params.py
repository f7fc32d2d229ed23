"""Unknown parameters: ignored and left out of the self link, or refused under Prefer: handling=strict."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, link, patient, search

STRICT = {"Prefer": "handling=strict"}


async def test_unknown_parameter_is_ignored(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    assert ids(await search(client, "Patient", {"favourite-colour": "blue"})) == {made["id"]}


async def test_unknown_parameter_is_left_out_of_the_self_link(client: httpx.AsyncClient) -> None:
    found = await search(client, "Patient", [("gender", "male"), ("favourite-colour", "blue")])
    assert link(found, "self") == "/Patient?gender=male"


async def test_lenient_handling_behaves_like_the_default(client: httpx.AsyncClient) -> None:
    found = await search(client, "Patient", {"favourite-colour": "blue"}, Prefer="handling=lenient")
    assert link(found, "self") == "/Patient"


async def test_strict_handling_refuses_an_unknown_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"favourite-colour": "blue"}, headers=STRICT)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert response.json()["resourceType"] == "OperationOutcome"
    assert issue["code"] == "not-supported"
    assert issue["expression"] == ["favourite-colour"]


async def test_strict_handling_accepts_known_parameters(client: httpx.AsyncClient) -> None:
    made = await create(client, patient(gender="male"))
    found = await search(client, "Patient", {"gender": "male", "_count": "5"}, **STRICT)
    assert ids(found) == {made["id"]}


async def test_strict_handling_refuses_an_unknown_chained_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"nonsense.name": "x"}, headers=STRICT)
    assert response.status_code == 400


async def test_format_and_pretty_are_not_unknown_parameters(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_format": "json", "_pretty": "true"}, headers=STRICT)
    assert response.status_code == 200


async def test_a_refused_search_changes_nothing(client: httpx.AsyncClient) -> None:
    made = await create(client, patient())
    await client.get("/Patient", params={"favourite-colour": "blue"}, headers=STRICT)
    assert (await client.get(f"/Patient/{made['id']}")).json() == made
