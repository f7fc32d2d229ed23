"""Date search per FHIR R4: values and search values are ranges (a partial date is its whole span, a Period
its start to end, open ends unbounded). eq: the search range contains the value; gt/lt: the value reaches
beyond the search range; ge/le: the value reaches into or beyond it; sa/eb: the value lies wholly after/before.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.fhir.search.factories import appointment, create, encounter, ids, patient, search, task


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ("1980", True),
        ("1980-04", True),
        ("1980-04-02", True),
        ("1980-04-03", False),
        ("ge1980-04-02", True),
        ("gt1980-04-02", False),
        ("gt1980-04-01", True),
        ("le1980-04-02", True),
        ("lt1980-04-02", False),
        ("lt1980-04-03", True),
        ("ne1980-04-02", False),
        ("ne1980-04-03", True),
        ("sa1980-04-01", True),
        ("eb1980-04-03", True),
        ("eb1980-04-02", False),
    ],
)
async def test_birthdate_day_compares_as_a_whole_day(client: httpx.AsyncClient, value: str, matches: bool) -> None:
    born = await create(client, patient(birth_date="1980-04-02"))
    found = ids(await search(client, "Patient", {"birthdate": value}))
    assert found == ({born["id"]} if matches else set())


async def test_partial_stored_date_is_not_equal_to_a_day_inside_it(client: httpx.AsyncClient) -> None:
    await create(client, patient(birth_date="1980-04"))
    assert ids(await search(client, "Patient", {"birthdate": "1980-04-02"})) == set()


async def test_partial_stored_date_overlaps_a_day_inside_it_for_ge(client: httpx.AsyncClient) -> None:
    born = await create(client, patient(birth_date="1980-04"))
    assert ids(await search(client, "Patient", {"birthdate": "ge1980-04-30"})) == {born["id"]}


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ("2025-01", True),
        ("2025-01-07", False),
        ("ne2025-01-07", True),
        ("gt2025-01-07", True),
        ("lt2025-01-07", True),
        ("ge2025-01-10", True),
        ("gt2025-01-10", False),
        ("le2025-01-05", True),
        ("lt2025-01-05", False),
        ("sa2025-01-04", True),
        ("sa2025-01-05", False),
        ("eb2025-01-11", True),
        ("eb2025-01-10", False),
    ],
)
async def test_period_compares_as_its_whole_span(client: httpx.AsyncClient, value: str, matches: bool) -> None:
    stay = await create(client, encounter(start="2025-01-05", end="2025-01-10"))
    found = ids(await search(client, "Encounter", {"date": value}))
    assert found == ({stay["id"]} if matches else set())


@pytest.mark.parametrize(("value", "matches"), [("gt2030-01-01", True), ("lt2025-01-01", False), ("2025-01", False)])
async def test_period_without_end_is_open_ended(client: httpx.AsyncClient, value: str, matches: bool) -> None:
    stay = await create(client, encounter(start="2025-01-05T10:00:00Z"))
    found = ids(await search(client, "Encounter", {"date": value}))
    assert found == ({stay["id"]} if matches else set())


async def test_stored_time_zone_is_compared_in_utc(client: httpx.AsyncClient) -> None:
    # 23:30 in New York on 1 January is 04:30 UTC on 2 January
    stay = await create(client, encounter(start="2025-01-01T23:30:00-05:00", end="2025-01-01T23:45:00-05:00"))
    assert ids(await search(client, "Encounter", {"date": "2025-01-02"})) == {stay["id"]}
    assert ids(await search(client, "Encounter", {"date": "2025-01-01"})) == set()


async def test_search_value_time_zone_is_honoured(client: httpx.AsyncClient) -> None:
    stay = await create(client, encounter(start="2025-01-02T04:30:00Z", end="2025-01-02T04:45:00Z"))
    assert ids(await search(client, "Encounter", {"date": "gt2025-01-01T23:00:00-05:00"})) == {stay["id"]}
    assert ids(await search(client, "Encounter", {"date": "lt2025-01-01T23:00:00-05:00"})) == set()


async def test_instant_search_matches_to_the_second(client: httpx.AsyncClient) -> None:
    at = await create(client, appointment(start="2025-01-02T04:30:00Z"))
    assert ids(await search(client, "Appointment", {"date": "2025-01-02T04:30:00Z"})) == {at["id"]}
    assert ids(await search(client, "Appointment", {"date": "2025-01-02T04:30:01Z"})) == set()


async def test_approximately_matches_nearby_dates_only(client: httpx.AsyncClient) -> None:
    near = await create(client, patient(birth_date="2025-01-03"))
    await create(client, patient(birth_date="2000-01-01"))
    assert ids(await search(client, "Patient", {"birthdate": "ap2025-01-01"})) == {near["id"]}


async def test_comma_separated_dates_are_ored(client: httpx.AsyncClient) -> None:
    a = await create(client, patient(birth_date="1980-01-01"))
    b = await create(client, patient(birth_date="1990-01-01"))
    await create(client, patient(birth_date="2000-01-01"))
    assert ids(await search(client, "Patient", {"birthdate": "1980,1990"})) == {a["id"], b["id"]}


async def test_repeated_date_bounds_make_a_range(client: httpx.AsyncClient) -> None:
    inside = await create(client, patient(birth_date="1980-06-01"))
    await create(client, patient(birth_date="1979-12-31"))
    await create(client, patient(birth_date="1981-01-01"))
    params = [("birthdate", "ge1980-01-01"), ("birthdate", "lt1981-01-01")]
    assert ids(await search(client, "Patient", params)) == {inside["id"]}


async def test_appointments_of_one_day_that_are_booked(client: httpx.AsyncClient) -> None:
    """The benchmark query: Appointment?date=ge2025-01-01&date=lt2025-01-02&status=booked."""
    await create(client, appointment(start="2024-12-31T23:59:59Z"))
    first = await create(client, appointment(start="2025-01-01T00:00:00Z"))
    await create(client, appointment(start="2025-01-01T12:00:00Z", status="cancelled"))
    last = await create(client, appointment(start="2025-01-01T23:59:59Z"))
    await create(client, appointment(start="2025-01-02T00:00:00Z"))
    params = [("date", "ge2025-01-01"), ("date", "lt2025-01-02"), ("status", "booked")]
    assert ids(await search(client, "Appointment", params)) == {first["id"], last["id"]}


async def test_missing_date_finds_resources_without_one(client: httpx.AsyncClient) -> None:
    await create(client, patient(birth_date="1980-01-01"))
    unknown = await create(client, patient())
    assert ids(await search(client, "Patient", {"birthdate:missing": "true"})) == {unknown["id"]}


async def test_last_updated_after_a_moment_finds_later_writes(client: httpx.AsyncClient) -> None:
    first = await create(client, patient())
    await asyncio.sleep(0.01)
    second = await create(client, patient())
    moment = first["meta"]["lastUpdated"]
    assert ids(await search(client, "Patient", {"_lastUpdated": f"gt{moment}"})) == {second["id"]}
    assert ids(await search(client, "Patient", {"_lastUpdated": f"ge{moment}"})) == {first["id"], second["id"]}


@pytest.mark.parametrize("value", ["2025-13-01", "2025-02-30", "yesterday", "ge", "2025-01-01T25:00:00Z"])
async def test_bad_date_is_refused_with_400_naming_the_parameter(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/Patient", params={"birthdate": value})
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["birthdate"]


async def test_bad_last_updated_is_refused_with_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_lastUpdated": "gtnow"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["_lastUpdated"]


async def test_unknown_prefix_is_refused_with_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"birthdate": "xx2025-01-01"})
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["ge2024-12-31", "gt2024-12-30", "ap2024-12-31"])
async def test_a_year_long_value_reaches_a_search_at_its_very_end(client: httpx.AsyncClient, value: str) -> None:
    """Partial dateTimes span up to a (leap) year; the index lookup's lower bound must allow for that."""
    made = await create(client, task(authored_on="2024"))
    assert ids(await search(client, "Task", {"authored-on": value})) == {made["id"]}


async def test_instant_range_search_finds_the_instant_just_inside_the_bound(client: httpx.AsyncClient) -> None:
    made = await create(client, appointment(start="2025-01-01T23:59:59.999Z"))
    assert ids(await search(client, "Appointment", {"date": "ge2025-01-01T23:59:59Z"})) == {made["id"]}
    assert ids(await search(client, "Appointment", {"date": "gt2025-01-01T23:59:58Z"})) == {made["id"]}
