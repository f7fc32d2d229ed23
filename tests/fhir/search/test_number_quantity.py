"""Number and quantity search: implicit precision for eq/ne, plain comparison for gt/lt/ge/le, units."""

from __future__ import annotations

import httpx
import pytest
from tests.fhir.search.factories import create, ids, observation, risk_assessment, search

UCUM = "http://unitsofmeasure.org"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", {99.5, 100.0, 100.4}),  # [99.5, 100.5)
        ("100.0", {100.0}),  # [99.95, 100.05)
        ("ne100", {99.4, 100.5}),
        ("gt100", {100.4, 100.5}),
        ("ge100", {100.0, 100.4, 100.5}),
        ("lt100", {99.4, 99.5}),
        ("le100", {99.4, 99.5, 100.0}),
        ("sa100", {100.4, 100.5}),
        ("eb100", {99.4, 99.5}),
        ("ap100", {99.4, 99.5, 100.0, 100.4, 100.5}),
    ],
)
async def test_number_prefixes_and_precision(client: httpx.AsyncClient, value: str, expected: set[float]) -> None:
    by_id = {}
    for probability in (99.4, 99.5, 100.0, 100.4, 100.5):
        stored = await create(client, risk_assessment(probability=probability))
        by_id[stored["id"]] = probability
    found = ids(await search(client, "RiskAssessment", {"probability": value}))
    assert {by_id[i] for i in found} == expected


async def test_approximately_excludes_values_more_than_ten_percent_away(client: httpx.AsyncClient) -> None:
    await create(client, risk_assessment(probability=80))
    near = await create(client, risk_assessment(probability=95))
    assert ids(await search(client, "RiskAssessment", {"probability": "ap100"})) == {near["id"]}


async def test_exponent_notation_is_understood(client: httpx.AsyncClient) -> None:
    hit = await create(client, risk_assessment(probability=100))
    assert ids(await search(client, "RiskAssessment", {"probability": "1e2"})) == {hit["id"]}


@pytest.mark.parametrize("value", ["abc", "gt", "1,5x", "NaN", "Infinity"])
async def test_bad_number_is_refused_with_400_naming_the_parameter(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/RiskAssessment", params={"probability": value})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["probability"]


async def test_quantity_with_system_and_code_matches_that_unit_only(client: httpx.AsyncClient) -> None:
    kg = await create(client, observation(quantity=(70, UCUM, "kg")))
    await create(client, observation(quantity=(70, UCUM, "[lb_av]")))
    found = await search(client, "Observation", {"value-quantity": f"70|{UCUM}|kg"})
    assert ids(found) == {kg["id"]}


async def test_quantity_with_code_only_ignores_the_system(client: httpx.AsyncClient) -> None:
    kg = await create(client, observation(quantity=(70, UCUM, "kg")))
    assert ids(await search(client, "Observation", {"value-quantity": "70||kg"})) == {kg["id"]}


async def test_quantity_without_unit_compares_the_number(client: httpx.AsyncClient) -> None:
    heavy = await create(client, observation(quantity=(120, UCUM, "kg")))
    await create(client, observation(quantity=(70, UCUM, "kg")))
    assert ids(await search(client, "Observation", {"value-quantity": "gt100"})) == {heavy["id"]}


async def test_malformed_quantity_is_refused_with_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"value-quantity": "70|kg"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["value-quantity"]
