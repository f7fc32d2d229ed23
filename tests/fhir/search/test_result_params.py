"""_summary, _elements and _total: less of each resource (marked SUBSETTED), or only the count."""

from __future__ import annotations

import httpx
import pytest
from tests.fhir.search.factories import FORM, create, ids, link, patient, search

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}


def _full_patient() -> dict:
    return patient(family="Okafor", gender="female") | {
        "maritalStatus": {"text": "married"},
        "communication": [{"language": {"text": "Yoruba"}}],
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Ada Okafor</div>'},
    }


async def test_summary_count_returns_the_total_and_no_entries(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create(client, patient())
    found = await search(client, "Patient", {"_summary": "count"})
    assert found["total"] == 3
    assert "entry" not in found


async def test_summary_count_counts_only_matches(client: httpx.AsyncClient) -> None:
    await create(client, patient(gender="male"))
    await create(client, patient(gender="female"))
    found = await search(client, "Patient", {"_summary": "count", "gender": "male"})
    assert found["total"] == 1


async def test_total_accurate_counts_beyond_the_page(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        await create(client, patient())
    found = await search(client, "Patient", {"_total": "accurate", "_count": "2"})
    assert found["total"] == 5
    assert len(found["entry"]) == 2


async def test_total_is_left_out_when_unknown_and_not_asked_for(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create(client, patient())
    assert "total" not in await search(client, "Patient", {"_count": "2"})


async def test_summary_true_keeps_only_summary_elements_and_marks_them(client: httpx.AsyncClient) -> None:
    await create(client, _full_patient())
    (entry,) = (await search(client, "Patient", {"_summary": "true"}))["entry"]
    shown = entry["resource"]
    assert shown["name"][0]["family"] == "Okafor" and shown["gender"] == "female"
    assert not {"maritalStatus", "communication", "text"} & set(shown)
    assert SUBSETTED in shown["meta"]["tag"]


async def test_summary_text_keeps_the_narrative(client: httpx.AsyncClient) -> None:
    await create(client, _full_patient())
    (entry,) = (await search(client, "Patient", {"_summary": "text"}))["entry"]
    assert set(entry["resource"]) == {"resourceType", "id", "meta", "text"}


async def test_summary_data_drops_the_narrative(client: httpx.AsyncClient) -> None:
    await create(client, _full_patient())
    (entry,) = (await search(client, "Patient", {"_summary": "data"}))["entry"]
    assert "text" not in entry["resource"] and "communication" in entry["resource"]


async def test_summary_false_returns_the_whole_resource(client: httpx.AsyncClient) -> None:
    stored = await create(client, _full_patient())
    (entry,) = (await search(client, "Patient", {"_summary": "false"}))["entry"]
    assert entry["resource"] == stored


async def test_elements_returns_only_the_named_elements_and_marks_them(client: httpx.AsyncClient) -> None:
    stored = await create(client, _full_patient())
    (entry,) = (await search(client, "Patient", {"_elements": "gender,maritalStatus"}))["entry"]
    shown = entry["resource"]
    assert set(shown) == {"resourceType", "id", "meta", "gender", "maritalStatus"}
    assert shown["meta"]["versionId"] == stored["meta"]["versionId"]
    assert SUBSETTED in shown["meta"]["tag"]


async def test_elements_accepts_type_prefixed_names(client: httpx.AsyncClient) -> None:
    await create(client, _full_patient())
    (entry,) = (await search(client, "Patient", {"_elements": "Patient.gender"}))["entry"]
    assert set(entry["resource"]) == {"resourceType", "id", "meta", "gender"}


async def test_subsetting_does_not_change_the_stored_resource(client: httpx.AsyncClient) -> None:
    stored = await create(client, _full_patient())
    await search(client, "Patient", {"_elements": "gender"})
    assert (await client.get(f"/Patient/{stored['id']}")).json() == stored


async def test_result_parameters_appear_in_the_self_link(client: httpx.AsyncClient) -> None:
    found = await search(client, "Patient", {"_elements": "gender", "_total": "accurate"})
    assert link(found, "self") == "/Patient?_elements=gender&_total=accurate"


@pytest.mark.parametrize(("name", "value"), [("_summary", "most"), ("_total", "all")])
async def test_bad_result_parameter_is_refused_with_400(client: httpx.AsyncClient, name: str, value: str) -> None:
    response = await client.get("/Patient", params={name: value})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [name]


async def test_post_search_takes_a_form_body(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(family="Okafor"))
    await create(client, patient(family="Smith"))
    response = await client.post("/Patient/_search", content="family=okafor", headers=FORM)
    assert response.status_code == 200
    assert ids(response.json()) == {hit["id"]}


async def test_post_search_combines_url_and_body_parameters(client: httpx.AsyncClient) -> None:
    hit = await create(client, patient(family="Okafor", gender="female"))
    await create(client, patient(family="Okafor", gender="male"))
    response = await client.post("/Patient/_search?gender=female", content="family=okafor", headers=FORM)
    assert ids(response.json()) == {hit["id"]}


async def test_post_search_answers_with_a_self_link_clients_can_get(client: httpx.AsyncClient) -> None:
    await create(client, patient(family="Okafor"))
    response = await client.post("/Patient/_search", content="family=okafor", headers=FORM)
    again = await client.get(link(response.json(), "self") or "")
    assert ids(again.json()) == ids(response.json())


async def test_post_search_with_a_json_body_is_refused_with_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient/_search", json={"family": "okafor"})
    assert response.status_code == 415
