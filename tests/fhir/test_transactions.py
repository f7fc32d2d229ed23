"""Transaction Bundles: atomic, ordered, with urn:uuid and conditional references resolved."""

from __future__ import annotations

import httpx
from tests.fhir.bundles import bundle, delete, get, observation, patch, patient, post, put, urn


async def count(client: httpx.AsyncClient, resource_type: str) -> int:
    return (await client.get(f"/{resource_type}", params={"_summary": "count"})).json()["total"]


async def test_transaction_creates_all_entries_and_answers_one_response_per_entry_in_order(
    client: httpx.AsyncClient,
) -> None:
    patient_url = urn()
    sent = bundle("transaction", post(patient("T-1"), full_url=patient_url), post(observation(patient_url)))
    response = await client.post("", json=sent)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "transaction-response"
    first, second = body["entry"]
    assert first["response"]["status"] == "201 Created"
    assert first["resource"]["resourceType"] == "Patient"
    assert second["resource"]["resourceType"] == "Observation"
    for entry in body["entry"]:
        assert entry["response"]["etag"] == 'W/"1"'
        assert entry["response"]["location"].endswith("/_history/1")
        assert entry["response"]["lastModified"]


async def test_urn_uuid_references_are_rewritten_everywhere_in_the_resource(client: httpx.AsyncClient) -> None:
    patient_url = urn()
    obs = observation(
        patient_url,
        performer=[{"reference": patient_url}],
        extension=[{"url": "urn:example:about", "valueReference": {"reference": patient_url}}],
        component=[
            {
                "code": {"text": "c"},
                "extension": [{"url": "urn:example:who", "valueReference": {"reference": patient_url}}],
            }
        ],
    )
    body = (
        await client.post("", json=bundle("transaction", post(obs), post(patient("T-2"), full_url=patient_url)))
    ).json()
    patient_id = body["entry"][1]["resource"]["id"]
    stored = (await client.get(f"/Observation/{body['entry'][0]['resource']['id']}")).json()
    expected = f"Patient/{patient_id}"
    assert stored["subject"]["reference"] == expected
    assert stored["performer"][0]["reference"] == expected
    assert stored["extension"][0]["valueReference"]["reference"] == expected
    assert stored["component"][0]["extension"][0]["valueReference"]["reference"] == expected


async def test_rewritten_references_are_searchable(client: httpx.AsyncClient) -> None:
    patient_url = urn()
    body = (
        await client.post(
            "", json=bundle("transaction", post(patient("T-3"), full_url=patient_url), post(observation(patient_url)))
        )
    ).json()
    patient_id = body["entry"][0]["resource"]["id"]
    found = (await client.get("/Observation", params={"subject": f"Patient/{patient_id}"})).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [body["entry"][1]["resource"]["id"]]


async def test_failing_entry_fails_the_whole_transaction_names_the_entry_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    entries = [post(patient(f"T-{i}")) for i in range(3)] + [post(patient("T-bad", birthDate="1980-13-45"))]
    response = await client.post("", json=bundle("transaction", *entries))
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[3].resource.birthDate"]
    assert await count(client, "Patient") == 0


async def test_conditional_reference_is_resolved_to_the_one_match(client: httpx.AsyncClient) -> None:
    existing = (await client.post("/Patient", json=patient("C-1"))).json()
    body = (
        await client.post("", json=bundle("transaction", post(observation("Patient?identifier=urn:mrn|C-1"))))
    ).json()
    assert body["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"


async def test_conditional_reference_matching_nothing_fails_with_404(client: httpx.AsyncClient) -> None:
    response = await client.post("", json=bundle("transaction", post(observation("Patient?identifier=urn:mrn|none"))))
    assert response.status_code == 404
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.subject.reference"]
    assert await count(client, "Observation") == 0


async def test_conditional_reference_matching_several_fails_with_412(client: httpx.AsyncClient) -> None:
    await client.post("/Patient", json=patient("DUP"))
    await client.post("/Patient", json=patient("DUP"))
    response = await client.post("", json=bundle("transaction", post(observation("Patient?identifier=urn:mrn|DUP"))))
    assert response.status_code == 412
    assert await count(client, "Observation") == 0


async def test_if_none_exist_entry_reuses_the_existing_resource_and_references_point_at_it(
    client: httpx.AsyncClient,
) -> None:
    existing = (await client.post("/Patient", json=patient("E-1"))).json()
    patient_url = urn()
    sent = bundle(
        "transaction",
        post(patient("E-1"), full_url=patient_url, if_none_exist="identifier=urn:mrn|E-1"),
        post(observation(patient_url)),
    )
    body = (await client.post("", json=sent)).json()
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][0]["resource"]["id"] == existing["id"]
    assert body["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"
    assert await count(client, "Patient") == 1


async def test_stale_if_match_entry_fails_the_transaction_with_412(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("M-1"))).json()
    await client.put(f"/Patient/{created['id']}", json=created)
    sent = bundle(
        "transaction",
        post(patient("M-2")),
        put(f"Patient/{created['id']}", {**created, "gender": "male"}, if_match='W/"1"'),
    )
    response = await client.post("", json=sent)
    assert response.status_code == 412
    assert await count(client, "Patient") == 1
    assert "gender" not in (await client.get(f"/Patient/{created['id']}")).json()


async def test_conditional_update_entry_updates_the_match(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("U-1"))).json()
    sent = bundle("transaction", put("Patient?identifier=urn:mrn|U-1", patient("U-1", gender="female")))
    body = (await client.post("", json=sent)).json()
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][0]["resource"]["id"] == created["id"]
    assert body["entry"][0]["resource"]["meta"]["versionId"] == "2"


async def test_conditional_delete_entry_deletes_the_match(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("D-1"))).json()
    body = (await client.post("", json=bundle("transaction", delete("Patient?identifier=urn:mrn|D-1")))).json()
    assert body["entry"][0]["response"]["status"] == "204 No Content"
    assert (await client.get(f"/Patient/{created['id']}")).status_code == 410


async def test_deletes_run_before_creates_so_if_none_exist_sees_the_deletion(client: httpx.AsyncClient) -> None:
    old = (await client.post("/Patient", json=patient("R-1"))).json()
    sent = bundle(
        "transaction",
        post(patient("R-1"), if_none_exist="identifier=urn:mrn|R-1"),
        delete(f"Patient/{old['id']}"),
    )
    body = (await client.post("", json=sent)).json()
    assert body["entry"][0]["response"]["status"] == "201 Created"
    assert body["entry"][0]["resource"]["id"] != old["id"]
    assert body["entry"][1]["response"]["status"] == "204 No Content"


async def test_get_entries_run_last_and_see_the_writes(client: httpx.AsyncClient) -> None:
    sent = bundle("transaction", get("Patient?identifier=urn:mrn|G-1"), post(patient("G-1")))
    body = (await client.post("", json=sent)).json()
    searchset = body["entry"][0]["resource"]
    assert searchset["type"] == "searchset"
    assert [e["resource"]["id"] for e in searchset["entry"]] == [body["entry"][1]["resource"]["id"]]


async def test_patch_entry_applies_a_json_patch(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("P-1"))).json()
    sent = bundle(
        "transaction", patch(f"Patient/{created['id']}", [{"op": "add", "path": "/gender", "value": "other"}])
    )
    body = (await client.post("", json=sent)).json()
    assert body["entry"][0]["resource"]["gender"] == "other"
    assert (await client.get(f"/Patient/{created['id']}")).json()["gender"] == "other"


async def test_two_entries_changing_the_same_resource_are_refused(client: httpx.AsyncClient) -> None:
    sent = bundle("transaction", put("Patient/same", patient("S-1", id="same")), delete("Patient/same"))
    response = await client.post("", json=sent)
    assert response.status_code == 400
    assert await count(client, "Patient") == 0


async def test_prefer_minimal_leaves_resources_out_of_the_response(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "", json=bundle("transaction", post(patient("PM-1"))), headers={"Prefer": "return=minimal"}
    )
    entry = response.json()["entry"][0]
    assert "resource" not in entry
    assert entry["response"]["status"] == "201 Created"
    assert entry["response"]["location"].startswith("Patient/")


async def test_a_bad_reference_fails_the_transaction_with_422_at_the_element(client: httpx.AsyncClient) -> None:
    response = await client.post("", json=bundle("transaction", post(patient("BR-1")), post(observation("not a ref"))))
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.subject.reference"]
    assert await count(client, "Patient") == 0


async def test_a_large_transaction_is_stored_whole(client: httpx.AsyncClient) -> None:
    entries = []
    for i in range(100):
        url = urn()
        entries += [post(patient(f"L-{i}"), full_url=url), post(observation(url))]
    response = await client.post("", json=bundle("transaction", *entries))
    assert response.status_code == 200
    assert await count(client, "Patient") == 100
    assert await count(client, "Observation") == 100
