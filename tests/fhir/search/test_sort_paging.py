"""_sort on several keys, and _count paging whose links visit every result exactly once."""

from __future__ import annotations

import httpx
import pytest
from tests.fhir.search.factories import (
    appointment,
    create,
    link,
    ordered_ids,
    patient,
    practitioner_role,
    ref,
    search,
    task,
)


async def test_sort_on_several_keys_descending_then_ascending(client: httpx.AsyncClient) -> None:
    await client.put("/Appointment/b", json=appointment(start="2025-01-01T09:00:00Z") | {"id": "b"})
    await client.put("/Appointment/a", json=appointment(start="2025-01-01T09:00:00Z") | {"id": "a"})
    await client.put("/Appointment/c", json=appointment(start="2025-01-02T09:00:00Z") | {"id": "c"})
    await client.put("/Appointment/d", json=appointment(start="2024-12-31T09:00:00Z") | {"id": "d"})
    found = await search(client, "Appointment", {"_sort": "-date,_id"})
    assert ordered_ids(found) == ["c", "a", "b", "d"]


async def test_sort_by_a_string_ignores_case(client: httpx.AsyncClient) -> None:
    b = await create(client, patient(family="baker"))
    a = await create(client, patient(family="Adams"))
    c = await create(client, patient(family="Clark"))
    found = await search(client, "Patient", {"_sort": "family"})
    assert ordered_ids(found) == [a["id"], b["id"], c["id"]]


async def test_resources_without_the_sort_value_come_last(client: httpx.AsyncClient) -> None:
    unknown = await create(client, patient())
    old = await create(client, patient(birth_date="1950-01-01"))
    young = await create(client, patient(birth_date="2000-01-01"))
    assert ordered_ids(await search(client, "Patient", {"_sort": "birthdate"})) == [
        old["id"],
        young["id"],
        unknown["id"],
    ]
    assert ordered_ids(await search(client, "Patient", {"_sort": "-birthdate"})) == [
        young["id"],
        old["id"],
        unknown["id"],
    ]


async def test_sort_by_last_updated_descending_puts_the_newest_first(client: httpx.AsyncClient) -> None:
    first = await create(client, patient())
    second = await create(client, patient())
    await client.put(f"/Patient/{first['id']}", json=first)
    assert ordered_ids(await search(client, "Patient", {"_sort": "-_lastUpdated"})) == [first["id"], second["id"]]


async def test_unknown_sort_parameter_is_refused_with_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_sort": "-nonsense"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["_sort"]


async def test_empty_sort_key_is_refused_with_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_sort": "family,"})
    assert response.status_code == 400


async def _walk(client: httpx.AsyncClient, url: str | None, relation: str) -> list[list[str]]:
    pages = []
    while url:
        response = await client.get(url)
        assert response.status_code == 200
        pages.append(ordered_ids(response.json()))
        url = link(response.json(), relation)
    return pages


@pytest.mark.parametrize("sort", ["_id", "-birthdate", "gender,-_lastUpdated"])
async def test_next_links_visit_every_result_exactly_once(client: httpx.AsyncClient, sort: str) -> None:
    made = set()
    for n in range(7):
        made.add(
            (await create(client, patient(birth_date=f"198{n % 3}-01-01", gender=("male", "female")[n % 2])))["id"]
        )
    pages = await _walk(client, f"/Patient?_count=3&_sort={sort}", "next")
    assert [len(p) for p in pages] == [3, 3, 1]
    visited = [i for page in pages for i in page]
    assert len(visited) == len(set(visited)) and set(visited) == made


async def test_previous_links_walk_back_over_the_same_pages(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        await create(client, patient())
    forward = await _walk(client, "/Patient?_count=2", "next")
    last = (await client.get("/Patient", params={"_count": "2", "_offset": "4"})).json()
    backward = await _walk(client, link(last, "self"), "previous")
    assert backward == list(reversed(forward))


async def test_paging_links_keep_the_query(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create(client, patient(gender="female"))
    await create(client, patient(gender="male"))
    first = await search(client, "Patient", {"gender": "female", "_count": "2"})
    second = await client.get(link(first, "next") or "")
    assert len(ordered_ids(second.json())) == 1
    assert link(first, "self") == "/Patient?gender=female&_count=2"


async def test_last_page_has_no_next_link_and_knows_the_total(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create(client, patient())
    last = (await client.get("/Patient", params={"_count": "2", "_offset": "2"})).json()
    assert link(last, "next") is None
    assert last["total"] == 3


@pytest.mark.parametrize("value", ["-1", "ten", ""])
async def test_bad_count_is_refused_with_400(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/Patient", params={"_count": value})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["_count"]


async def test_count_zero_returns_the_total_and_no_entries(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create(client, patient())
    found = await search(client, "Patient", {"_count": "0"})
    assert found["total"] == 3
    assert found.get("entry", []) == []


async def test_task_worklist_of_one_owner(client: httpx.AsyncClient) -> None:
    """The benchmark query: Task?status=requested,ready&owner=PractitionerRole/x&_sort=-priority,authored-on."""
    role = await create(client, practitioner_role())
    other = await create(client, practitioner_role())
    mine = ref(role)
    routine_old = await create(client, task(status="ready", priority="routine", owner=mine, authored_on="2025-01-01"))
    urgent_new = await create(client, task(status="requested", priority="urgent", owner=mine, authored_on="2025-01-03"))
    urgent_old = await create(client, task(status="ready", priority="urgent", owner=mine, authored_on="2025-01-02"))
    await create(client, task(status="completed", priority="urgent", owner=mine, authored_on="2025-01-01"))
    await create(client, task(status="ready", priority="stat", owner=ref(other), authored_on="2025-01-01"))
    params = {
        "status": "requested,ready",
        "owner": f"PractitionerRole/{role['id']}",
        "_sort": "-priority,authored-on",
        "_count": "50",
    }
    found = await search(client, "Task", params)
    assert ordered_ids(found) == [urgent_old["id"], urgent_new["id"], routine_old["id"]]


async def test_priority_sorts_by_urgency_not_alphabetically(client: httpx.AsyncClient) -> None:
    made = {p: await create(client, task(priority=p)) for p in ("urgent", "stat", "routine", "asap")}
    found = await search(client, "Task", {"_sort": "-priority"})
    assert ordered_ids(found) == [made[p]["id"] for p in ("stat", "asap", "urgent", "routine")]
