"""Bad input gets the right status and an OperationOutcome, and changes nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from tests.fhir.bundles import bundle, get, observation, patient, post

PATIENT = patient("BAD-1")


async def nothing_stored(client: httpx.AsyncClient) -> bool:
    history = (await client.get("/_history")).json()
    return history.get("entry", []) == []


def assert_outcome(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


async def test_malformed_json_is_refused_with_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Patient", content=b'{"resourceType": "Patient",', headers={"Content-Type": "application/fhir+json"}
    )
    assert_outcome(response, 400)
    assert await nothing_stored(client)


async def test_a_body_that_is_not_a_resource_is_refused_with_400(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.post("/Patient", json=[1, 2]), 400)
    assert await nothing_stored(client)


async def test_resource_type_not_matching_the_url_is_refused_with_400(client: httpx.AsyncClient) -> None:
    issue = assert_outcome(await client.post("/Observation", json=PATIENT), 400)
    assert issue["expression"] == ["resourceType"]
    assert await nothing_stored(client)


async def test_resource_type_not_matching_the_url_on_update_is_refused_with_400(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.put("/Observation/x1", json={**PATIENT, "id": "x1"}), 400)
    assert await nothing_stored(client)


async def test_an_invalid_element_is_refused_with_422_at_the_element(client: httpx.AsyncClient) -> None:
    issue = assert_outcome(await client.post("/Patient", json={**PATIENT, "active": "maybe"}), 422)
    assert issue["expression"] == ["Patient.active"]
    assert await nothing_stored(client)


async def test_an_unknown_element_is_refused_with_422(client: httpx.AsyncClient) -> None:
    issue = assert_outcome(await client.post("/Patient", json={**PATIENT, "favouriteColour": "blue"}), 422)
    assert issue["expression"] == ["Patient.favouriteColour"]
    assert await nothing_stored(client)


@pytest.mark.parametrize("reference", ["not a ref", "Patient/", "patient/1", "Patient?identifier=x"])
async def test_a_bad_reference_is_refused_with_422_at_the_element(client: httpx.AsyncClient, reference: str) -> None:
    issue = assert_outcome(await client.post("/Observation", json=observation(reference)), 422)
    assert issue["expression"] == ["Observation.subject.reference"]
    assert await nothing_stored(client)


@pytest.mark.parametrize(
    "reference", ["Patient/1", "Patient/1/_history/2", "#p1", "urn:uuid:3f1c", "https://ehr.example/fhir/Patient/9"]
)
async def test_every_allowed_reference_form_is_accepted(client: httpx.AsyncClient, reference: str) -> None:
    resource = observation(reference)
    if reference == "#p1":
        resource["contained"] = [{"resourceType": "Patient", "id": "p1"}]
    assert (await client.post("/Observation", json=resource)).status_code == 201


async def test_a_bad_reference_inside_an_extension_is_refused_at_the_element(client: httpx.AsyncClient) -> None:
    extension = [{"url": "urn:example:x", "valueReference": {"reference": "nope"}}]
    issue = assert_outcome(await client.post("/Patient", json={**PATIENT, "extension": extension}), 422)
    assert issue["expression"] == ["Patient.extension[0].valueReference.reference"]


async def test_id_in_the_body_not_matching_the_url_is_refused_with_400(client: httpx.AsyncClient) -> None:
    issue = assert_outcome(await client.put("/Patient/a1", json={**PATIENT, "id": "b2"}), 400)
    assert issue["expression"] == ["Patient.id"]
    assert await nothing_stored(client)


async def test_an_invalid_id_in_the_url_is_refused_with_400(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.put("/Patient/bad_id!", json={**PATIENT, "id": "bad_id!"}), 400)
    assert await nothing_stored(client)


async def test_an_unknown_resource_type_answers_404(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.post("/Spaceship", json={"resourceType": "Spaceship"}), 404)
    assert_outcome(await client.get("/Spaceship/1"), 404)
    assert await nothing_stored(client)


async def test_a_type_r4b_dropped_is_validated_from_the_r4_definitions(client: httpx.AsyncClient) -> None:
    """An R4 type R4B dropped is a type like the others: an incomplete one is 422 naming the element."""
    outcome = assert_outcome(await client.post("/MedicinalProduct", json={"resourceType": "MedicinalProduct"}), 422)
    assert outcome["expression"] == ["MedicinalProduct.name"]
    assert await nothing_stored(client)


async def test_an_unsupported_operation_answers_501(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    assert_outcome(await client.get(f"/Patient/{created['id']}/$lastn"), 501)
    assert_outcome(await client.post("/Patient/$match", json={"resourceType": "Parameters"}), 501)
    assert_outcome(await client.get("/Patient/$meta"), 501)


async def test_an_unsupported_method_answers_405(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    assert_outcome(await client.post(f"/Patient/{created['id']}", json=created), 405)
    assert_outcome(await client.delete(f"/Patient/{created['id']}/_history"), 405)
    assert (await client.get(f"/Patient/{created['id']}")).json()["meta"]["versionId"] == "1"


async def test_an_xml_body_is_refused_with_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Patient", content=b"<Patient xmlns='http://hl7.org/fhir'/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert_outcome(response, 415)
    assert await nothing_stored(client)


async def test_format_xml_is_refused_with_415(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/Patient", params={"_format": "xml"}), 415)
    assert_outcome(await client.post("/Patient", json=PATIENT, params={"_format": "xml"}), 415)
    assert await nothing_stored(client)


async def test_a_body_over_the_limit_is_refused_with_413(client: httpx.AsyncClient, app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(update={"max_request_bytes": 2000})
    big = {**PATIENT, "name": [{"family": "x" * 5000}]}
    assert_outcome(await client.post("/Patient", json=big), 413)
    assert await nothing_stored(client)


async def test_a_bundle_over_the_entry_limit_is_refused_with_413(client: httpx.AsyncClient, app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(update={"max_bundle_entries": 3})
    sent = bundle("transaction", *[post(patient(f"X-{i}")) for i in range(4)])
    assert_outcome(await client.post("", json=sent), 413)
    assert await nothing_stored(client)


async def test_a_collection_bundle_posted_to_the_base_is_refused_with_400(client: httpx.AsyncClient) -> None:
    issue = assert_outcome(await client.post("", json=bundle("collection", post(PATIENT))), 400)
    assert issue["expression"] == ["Bundle.type"]
    assert await nothing_stored(client)


async def test_a_bundle_entry_without_request_is_refused_with_400(client: httpx.AsyncClient) -> None:
    sent = bundle("transaction", post(PATIENT), {"resource": PATIENT})
    issue = assert_outcome(await client.post("", json=sent), 400)
    assert issue["expression"] == ["Bundle.entry[1].request"]
    assert await nothing_stored(client)


async def test_a_resource_that_is_not_a_bundle_posted_to_the_base_is_refused_with_400(
    client: httpx.AsyncClient,
) -> None:
    assert_outcome(await client.post("", json=PATIENT), 400)
    assert await nothing_stored(client)


async def test_a_batch_with_a_bad_entry_url_is_refused_whole(client: httpx.AsyncClient) -> None:
    sent = bundle("batch", post(PATIENT), get("Patient/1/_history/2/extra"))
    issue = assert_outcome(await client.post("", json=sent), 400)
    assert issue["expression"] == ["Bundle.entry[1].request.url"]
    assert await nothing_stored(client)
