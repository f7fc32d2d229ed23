"""Token search: system|code, |code, system|, :text, :not, :missing, comma OR and repeated AND."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import create, ids, observation, patient, search

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


async def _three_codes(client: httpx.AsyncClient) -> tuple[dict, dict, dict]:
    loinc = await create(client, observation(code=(LOINC, "1234-5")))
    snomed = await create(client, observation(code=(SNOMED, "1234-5")))
    bare = await create(client, observation(code=(None, "1234-5")))
    return loinc, snomed, bare


async def test_system_and_code_match_only_that_system(client: httpx.AsyncClient) -> None:
    loinc, _, _ = await _three_codes(client)
    assert ids(await search(client, "Observation", {"code": f"{LOINC}|1234-5"})) == {loinc["id"]}


async def test_code_alone_matches_every_system(client: httpx.AsyncClient) -> None:
    found = await _three_codes(client)
    assert ids(await search(client, "Observation", {"code": "1234-5"})) == {r["id"] for r in found}


async def test_leading_bar_matches_codes_without_a_system(client: httpx.AsyncClient) -> None:
    _, _, bare = await _three_codes(client)
    assert ids(await search(client, "Observation", {"code": "|1234-5"})) == {bare["id"]}


async def test_system_with_trailing_bar_matches_any_code_of_that_system(client: httpx.AsyncClient) -> None:
    _, snomed, _ = await _three_codes(client)
    other = await create(client, observation(code=(SNOMED, "999")))
    assert ids(await search(client, "Observation", {"code": f"{SNOMED}|"})) == {snomed["id"], other["id"]}


async def test_comma_means_or(client: httpx.AsyncClient) -> None:
    male = await create(client, patient(gender="male"))
    female = await create(client, patient(gender="female"))
    await create(client, patient(gender="other"))
    assert ids(await search(client, "Patient", {"gender": "male,female"})) == {male["id"], female["id"]}


async def test_repeated_parameter_means_and(client: httpx.AsyncClient) -> None:
    both = await create(client, patient(identifier=[("urn:a", "1"), ("urn:b", "2")]))
    await create(client, patient(identifier=[("urn:a", "1")]))
    params = [("identifier", "urn:a|1"), ("identifier", "urn:b|2")]
    assert ids(await search(client, "Patient", params)) == {both["id"]}


async def test_boolean_token_matches_true_and_false(client: httpx.AsyncClient) -> None:
    active = await create(client, patient(active=True))
    inactive = await create(client, patient(active=False))
    assert ids(await search(client, "Patient", {"active": "true"})) == {active["id"]}
    assert ids(await search(client, "Patient", {"active": "false"})) == {inactive["id"]}


async def test_text_modifier_matches_the_concept_text_ignoring_case(client: httpx.AsyncClient) -> None:
    hit = await create(client, observation(code=(LOINC, "8867-4"), text="Heart rate"))
    await create(client, observation(code=(LOINC, "8310-5"), text="Body temperature"))
    assert ids(await search(client, "Observation", {"code:text": "heart"})) == {hit["id"]}


async def test_not_modifier_excludes_matches_and_keeps_resources_without_a_value(client: httpx.AsyncClient) -> None:
    await create(client, patient(gender="male"))
    female = await create(client, patient(gender="female"))
    unknown = await create(client, patient())
    assert ids(await search(client, "Patient", {"gender:not": "male"})) == {female["id"], unknown["id"]}


async def test_not_modifier_with_several_values_excludes_each_of_them(client: httpx.AsyncClient) -> None:
    await create(client, patient(gender="male"))
    await create(client, patient(gender="female"))
    other = await create(client, patient(gender="other"))
    assert ids(await search(client, "Patient", {"gender:not": "male,female"})) == {other["id"]}


async def test_missing_true_finds_resources_without_the_element(client: httpx.AsyncClient) -> None:
    await create(client, patient(gender="male"))
    unknown = await create(client, patient())
    assert ids(await search(client, "Patient", {"gender:missing": "true"})) == {unknown["id"]}


async def test_missing_false_finds_resources_with_the_element(client: httpx.AsyncClient) -> None:
    male = await create(client, patient(gender="male"))
    await create(client, patient())
    assert ids(await search(client, "Patient", {"gender:missing": "false"})) == {male["id"]}


async def test_missing_takes_only_true_or_false(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"gender:missing": "maybe"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["gender:missing"]


async def test_id_matches_any_of_several_ids(client: httpx.AsyncClient) -> None:
    first = await create(client, patient())
    second = await create(client, patient())
    await create(client, patient())
    found = await search(client, "Patient", {"_id": f"{first['id']},{second['id']}"})
    assert ids(found) == {first["id"], second["id"]}


async def test_escaped_comma_is_part_of_the_value(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(identifier=[("urn:x", "a,b")]))
    await create(client, patient(identifier=[("urn:x", "a")]))
    assert ids(await search(client, "Patient", {"identifier": "urn:x|a\\,b"})) == {hit["id"]}


async def test_unknown_modifier_is_refused_with_400_naming_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"gender:sideways": "male"})
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["gender:sideways"]


async def test_identifier_modifier_is_refused_on_a_token_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"gender:identifier": "male"})
    assert response.status_code == 400
