"""A Reference points at a type its element allows (the ``targetProfile`` of the official R4 definitions): a
relative literal reference to any other type is 422 naming the element, and nothing is stored; absolute,
``#contained``, identifier-only references are not checked, and a transaction's ``urn:uuid:`` references are
checked once rewritten to ``Type/id``. Both databases, through the HTTP API."""

from __future__ import annotations

import httpx
import pytest
from tests.fhir.bundles import bundle, post, urn
from tests.fixtures import factories
from tests.fixtures.factories import as_reference as ref

PATIENT = {"resourceType": "Patient", "name": [{"family": "Okafor"}]}


def communication(**extra: object) -> dict:
    return {"resourceType": "Communication", "status": "completed", **extra}


def observation(**extra: object) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}, **extra}


def appointment(actor: str) -> dict:
    return factories.appointment(start="2026-12-01T09:00:00Z", end="2026-12-01T09:20:00Z", actors=[actor])


def medication_request(medication: str) -> dict:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": ref("Patient/p1"),
        "medicationReference": ref(medication),
    }


#: (resource, the element named, the type it pointed at): every one a type the R4 element does not allow
REFUSED = [
    (communication(subject=ref("Practitioner/dr-1")), "Communication.subject.reference", "Practitioner"),
    (appointment("Organization/org-1"), "Appointment.participant[0].actor.reference", "Organization"),
    (observation(subject=ref("Practitioner/dr-1")), "Observation.subject.reference", "Practitioner"),
    (observation(performer=[ref("Encounter/e1")]), "Observation.performer[0].reference", "Encounter"),
    (medication_request("Substance/s1"), "MedicationRequest.medicationReference.reference", "Substance"),
    (  # a datatype's element (Annotation.author[x]) and a versioned reference
        communication(note=[{"text": "seen", "authorReference": ref("Location/l1/_history/2")}]),
        "Communication.note[0].authorReference.reference",
        "Location",
    ),
    (  # inside a contained resource
        observation(contained=[observation(id="c", subject=ref("Organization/o1"))], hasMember=[ref("#c")]),
        "Observation.contained[0].subject.reference",
        "Organization",
    ),
]


async def stored(client: httpx.AsyncClient, resource_type: str) -> int:
    return (await client.get(f"/{resource_type}", params={"_summary": "count"})).json()["total"]


def named(response: httpx.Response) -> set[str]:
    return {e for issue in response.json()["issue"] for e in issue.get("expression", [])}


@pytest.mark.parametrize(("resource", "element", "pointed_at"), REFUSED, ids=[element for _, element, _ in REFUSED])
async def test_a_reference_to_a_type_the_element_does_not_allow_is_422_and_nothing_is_stored(
    client: httpx.AsyncClient, resource: dict, element: str, pointed_at: str
) -> None:
    resource_type = resource["resourceType"]
    created = await client.post(f"/{resource_type}", json=resource)
    assert created.status_code == 422, created.text
    assert created.json()["resourceType"] == "OperationOutcome"
    assert element in named(created)
    [issue] = [i for i in created.json()["issue"] if element in i["expression"]]
    assert f"{pointed_at} is not one of them" in issue["diagnostics"]
    updated = await client.put(f"/{resource_type}/x1", json={**resource, "id": "x1"})
    assert updated.status_code == 422, updated.text
    assert element in named(updated)
    assert await stored(client, resource_type) == 0


async def test_allowed_types_and_unchecked_forms_are_stored(client: httpx.AsyncClient) -> None:
    accepted = [
        observation(subject=ref("Location/l1")),  # R4's Observation.subject allows Location
        observation(subject=ref("Patient/p1/_history/3")),
        observation(subject=ref("https://ehr.example.org/fhir/Practitioner/dr-1")),  # absolute: not checked
        observation(subject={"identifier": {"system": "urn:npi", "value": "1234"}}),  # logical: not checked
        observation(contained=[{"resourceType": "Practitioner", "id": "dr"}], subject=ref("#dr")),
        appointment("HealthcareService/hs-1"),
        {"resourceType": "Task", "status": "ready", "intent": "order", "for": ref("Location/l1")},  # Resource: any
        medication_request("Medication/m1"),
    ]
    for resource in accepted:
        response = await client.post(f"/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text


async def test_a_reference_naming_no_resource_type_is_refused_without_quoting_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/Communication", json=communication(subject=ref("Quillfeather/1")))
    assert response.status_code == 422
    assert "Communication.subject.reference" in named(response)
    assert "Quillfeather" not in response.text  # may be a name: a type it is not is not quoted back


async def test_transaction_references_are_checked_after_urn_uuid_rewriting(client: httpx.AsyncClient) -> None:
    patient, practitioner = urn(), urn()
    fine = bundle(
        "transaction",
        post(PATIENT, full_url=patient),
        post(communication(subject=ref(patient)), full_url=urn()),
    )
    response = await client.post("", json=fine)
    assert response.status_code == 200, response.text
    subject = (await client.get("/Communication")).json()["entry"][0]["resource"]["subject"]["reference"]
    assert subject.startswith("Patient/")
    wrong = bundle(
        "transaction",
        post({"resourceType": "Practitioner", "name": [{"family": "Reed"}]}, full_url=practitioner),
        post(communication(subject=ref(practitioner))),
    )
    response = await client.post("", json=wrong)
    assert response.status_code == 422, response.text
    assert "Bundle.entry[1].resource.subject.reference" in named(response)
    assert await stored(client, "Practitioner") == 0
    assert await stored(client, "Communication") == 1


async def test_a_batch_entry_with_a_wrong_target_is_refused_alone(client: httpx.AsyncClient) -> None:
    batch = bundle("batch", post(communication(subject=ref("Device/d1"))), post(communication(subject=ref("Group/g"))))
    entries = (await client.post("", json=batch)).json()["entry"]
    assert entries[0]["response"]["status"].startswith("422")
    outcome = entries[0]["response"]["outcome"]
    assert "Bundle.entry[0].resource.subject.reference" in {e for i in outcome["issue"] for e in i["expression"]}
    assert entries[1]["response"]["status"].startswith("201")
    assert await stored(client, "Communication") == 1


async def test_validate_names_the_element_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/Communication/$validate", json=communication(recipient=[ref("Location/l1")]))
    assert response.status_code in (200, 422)
    errors = [i for i in response.json()["issue"] if i["severity"] == "error"]
    assert ["Communication.recipient[0].reference"] in [i["expression"] for i in errors]
