"""Input at the edge (issue #13): what used to reach SQL or the validators and end in a 500 is refused first,
with an OperationOutcome naming the place and nothing stored. On PostgreSQL and SQLite."""

from __future__ import annotations

import httpx
import orjson
import pytest

from fhircrm.fhir.inputs import MAX_DEPTH
from fhircrm.fhir.search.query import MAX_OFFSET

JSON = {"Content-Type": "application/fhir+json"}


def nested_extensions(levels: int) -> dict:
    extension: dict = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "http://example.org/level", "extension": [extension]}
    return {"resourceType": "Patient", "extension": [extension]}


async def stored(client: httpx.AsyncClient, resource_type: str = "Patient") -> int:
    return (await client.get(f"/{resource_type}", params={"_summary": "count"})).json()["total"]


def refused(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


@pytest.mark.parametrize("param", ["family", "telecom", "name", "_id", "identifier", "general-practitioner.name"])
async def test_a_nul_byte_in_a_search_value_is_400_naming_the_parameter(client: httpx.AsyncClient, param: str) -> None:
    issue = refused(await client.get("/Patient", params={param: "Okafor\x00"}), 400)
    assert issue["expression"] == [param]
    assert "Okafor" not in issue["diagnostics"]


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f"])
async def test_control_characters_in_a_search_parameter_name_are_400(client: httpx.AsyncClient, char: str) -> None:
    refused(await client.get("/Patient", params={f"family{char}": "x"}), 400)


async def test_tab_and_newline_in_a_search_value_are_fhir_strings(client: httpx.AsyncClient) -> None:
    assert (await client.get("/Patient", params={"family": "a\tb\nc"})).status_code == 200


async def test_a_nul_byte_in_an_id_is_400(client: httpx.AsyncClient) -> None:
    refused(await client.get("/Patient/abc%00def"), 400)
    refused(await client.put("/Patient/abc%00def", json={"resourceType": "Patient", "id": "abc\x00def"}), 400)
    assert await stored(client) == 0


@pytest.mark.parametrize("path", ["/Patient", "/Patient/_history", "/_history"])
async def test_a_huge_offset_is_400_naming_the_limit(client: httpx.AsyncClient, path: str) -> None:
    issue = refused(await client.get(path, params={"_offset": "1" + "0" * 30}), 400)
    assert issue["expression"] == ["_offset"]
    assert str(MAX_OFFSET) in issue["diagnostics"]
    assert (await client.get(path, params={"_offset": str(MAX_OFFSET)})).status_code == 200


@pytest.mark.parametrize("value", ["9" * 40, "1e9", "-1", "1_000", "\u0663"])
async def test_a_count_that_is_not_a_sensible_whole_number_is_400(client: httpx.AsyncClient, value: str) -> None:
    refused(await client.get("/Patient", params={"_count": value}), 400)
    refused(await client.get("/Patient/_history", params={"_count": value}), 400)


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("/RiskAssessment", "probability", "1e400"),
        ("/RiskAssessment", "probability", "9" * 5000),
        ("/RiskAssessment", "probability", "-1e-400"),
        ("/Observation", "value-quantity", "1e999"),
        ("/Observation", "value-quantity", "gt" + "9" * 400 + "|http://unitsofmeasure.org|mg"),
        ("/Patient", "birthdate", "99999-01-01"),
        ("/Patient", "birthdate", "ge" + "9" * 40),
        ("/Patient", "_lastUpdated", "gt1-01-01"),
        ("/Patient/x/_history", "_since", "9" * 30),
    ],
)
async def test_huge_numbers_and_dates_in_searches_are_never_a_500(
    client: httpx.AsyncClient, path: str, param: str, value: str
) -> None:
    answer = await client.get(path, params={param: value})
    assert answer.status_code in (200, 400, 404), answer.text
    if answer.status_code != 200:
        assert answer.json()["resourceType"] == "OperationOutcome"


async def test_a_version_number_too_large_for_the_database_is_404(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient"})).json()
    refused(await client.get(f"/Patient/{created['id']}/_history/{'9' * 30}"), 404)


async def test_two_hundred_nested_extensions_are_422_not_a_recursion_error(client: httpx.AsyncClient) -> None:
    issue = refused(await client.post("/Patient", json=nested_extensions(200)), 422)
    assert "nests deeper" in issue["diagnostics"]
    assert await stored(client) == 0


async def test_nesting_just_past_the_resource_limit_is_422_naming_the_element(client: httpx.AsyncClient) -> None:
    levels = MAX_DEPTH // 2  # each level is an object and a list
    issue = refused(await client.post("/Patient", json=nested_extensions(levels)), 422)
    assert issue["expression"][0].startswith("Patient.extension[0].extension[0]")
    assert await stored(client) == 0


async def test_deep_but_reasonable_nesting_is_stored(client: httpx.AsyncClient) -> None:
    assert (await client.post("/Patient", json=nested_extensions(20))).status_code == 201


async def test_a_deeply_nested_transaction_is_422(client: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": nested_extensions(200), "request": {"method": "POST", "url": "Patient"}}],
    }
    refused(await client.post("", json=bundle), 422)
    assert await stored(client) == 0


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\x7f"])
async def test_control_characters_in_resource_strings_are_422_naming_the_element(
    client: httpx.AsyncClient, char: str
) -> None:
    body = {"resourceType": "Patient", "name": [{"family": f"Oka{char}for"}]}
    issue = refused(await client.post("/Patient", json=body), 422)
    assert issue["expression"] == ["Patient.name[0].family"]
    assert "Oka" not in issue["diagnostics"]
    assert await stored(client) == 0


async def test_tab_cr_and_lf_in_resource_strings_are_kept(client: httpx.AsyncClient) -> None:
    body = {"resourceType": "Patient", "name": [{"text": "line one\r\n\tline two"}]}
    created = await client.post("/Patient", json=body)
    assert created.status_code == 201
    assert created.json()["name"][0]["text"] == "line one\r\n\tline two"


async def test_a_control_character_in_an_element_name_is_422(client: httpx.AsyncClient) -> None:
    refused(await client.post("/Patient", json={"resourceType": "Patient", "act\x00ive": True}), 422)
    assert await stored(client) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"resourceType":"Patient","multipleBirthInteger":1e400}',
        b'{"resourceType":"Patient","multipleBirthInteger":' + b"9" * 10_000 + b"}",
        b'{"resourceType":"Patient","multipleBirthInteger":' + b"9" * 30 + b"}",
        b'{"resourceType":"Patient","multipleBirthInteger":-' + b"9" * 30 + b"}",
        b'{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e308}}',
    ],
)
async def test_huge_numbers_in_resources_are_refused_cleanly(client: httpx.AsyncClient, raw: bytes) -> None:
    resource_type = orjson.loads(raw.split(b",", 1)[0] + b"}")["resourceType"]
    answer = await client.post(f"/{resource_type}", content=raw, headers=JSON)
    if resource_type == "Observation":  # 1e308 is a finite decimal: stored
        assert answer.status_code == 201, answer.text
        return
    refused(answer, 400 if b"e400" in raw or len(raw) > 1000 else 422)
    assert await stored(client) == 0


async def test_a_patch_that_puts_a_nul_byte_in_a_resource_is_422(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient", "active": True})).json()
    patch = [{"op": "add", "path": "/name", "value": [{"family": "x\x00"}]}]
    answer = await client.patch(
        f"/Patient/{created['id']}",
        content=orjson.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )
    refused(answer, 422)
    assert (await client.get(f"/Patient/{created['id']}")).json()["meta"]["versionId"] == "1"


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        ({"resourceType": "Patient", "active": "yes"}, "Patient.active"),
        ({"resourceType": "Patient", "multipleBirthInteger": "3"}, "Patient.multipleBirthInteger"),
        ({"resourceType": "Patient", "birthDate": 19700101}, "Patient.birthDate"),
        ({"resourceType": "Patient", "meta": "x"}, "Patient.meta"),
        (
            {"resourceType": "Patient", "extension": [{"url": "u", "valueBoolean": "true"}]},
            "Patient.extension[0].valueBoolean",
        ),
        (
            {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "active": "no"}]},
            "Patient.contained[0].active",
        ),
    ],
)
async def test_primitives_of_the_wrong_json_type_are_422_naming_the_element(
    client: httpx.AsyncClient, resource: dict, where: str
) -> None:
    issue = refused(await client.post(f"/{resource['resourceType']}", json=resource), 422)
    assert issue["expression"] == [where]
    assert await stored(client) == 0
