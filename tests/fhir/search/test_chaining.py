"""Chained parameters (one level): with a type modifier, and fanned out over every target type without one."""

from __future__ import annotations

import httpx
from tests.fhir.search.factories import appointment, create, ids, location, observation, patient, ref, search


async def test_chain_matches_through_the_reference(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient(identifier=[("urn:mrn", "A-1")]))
    bob = await create(client, patient(identifier=[("urn:mrn", "B-2")]))
    hit = await create(client, appointment(start="2025-01-01T09:00:00Z", patient=ref(ada)))
    await create(client, appointment(start="2025-01-01T10:00:00Z", patient=ref(bob)))
    found = await search(client, "Appointment", {"patient.identifier": "urn:mrn|A-1"})
    assert ids(found) == {hit["id"]}


async def test_chain_with_a_type_modifier_follows_only_that_type(client: httpx.AsyncClient) -> None:
    smith = await create(client, patient(family="Smith"))
    ward = await create(client, location(name="Smith ward"))
    on_patient = await create(client, observation(subject=ref(smith)))
    await create(client, observation(subject=ref(ward)))
    found = await search(client, "Observation", {"subject:Patient.name": "smith"})
    assert ids(found) == {on_patient["id"]}


async def test_chain_without_a_type_fans_out_over_every_target_type(client: httpx.AsyncClient) -> None:
    smith = await create(client, patient(family="Smith"))
    ward = await create(client, location(name="Smith ward"))
    on_patient = await create(client, observation(subject=ref(smith)))
    on_location = await create(client, observation(subject=ref(ward)))
    await create(client, observation(subject=ref(await create(client, patient(family="Jones")))))
    found = await search(client, "Observation", {"subject.name": "smith"})
    assert ids(found) == {on_patient["id"], on_location["id"]}


async def test_chain_ending_in_id_matches_the_target_id(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    hit = await create(client, observation(subject=ref(ada)))
    await create(client, observation(subject=ref(await create(client, patient()))))
    found = await search(client, "Observation", {"subject:Patient._id": ada["id"]})
    assert ids(found) == {hit["id"]}


async def test_chain_does_not_follow_a_deleted_target(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient(family="Smith"))
    await create(client, observation(subject=ref(ada)))
    await client.delete(f"/Patient/{ada['id']}")
    assert ids(await search(client, "Observation", {"subject:Patient.name": "smith"})) == set()


async def test_chain_values_are_ored_and_repeated_chains_anded(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient(family="Smith", gender="female"))
    bob = await create(client, patient(family="Jones", gender="male"))
    a = await create(client, observation(subject=ref(ada)))
    b = await create(client, observation(subject=ref(bob)))
    ored = await search(client, "Observation", {"subject:Patient.name": "smith,jones"})
    assert ids(ored) == {a["id"], b["id"]}
    anded = [("subject:Patient.name", "smith,jones"), ("subject:Patient.gender", "male")]
    assert ids(await search(client, "Observation", anded)) == {b["id"]}


async def test_chain_on_a_parameter_that_is_not_a_reference_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"code.name": "x"})
    assert response.status_code == 400


async def test_chain_to_an_unknown_parameter_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"subject:Patient.nonsense": "x"})
    assert response.status_code == 400


async def test_chain_with_a_type_the_reference_cannot_hold_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"subject:Practitioner.name": "x"})
    assert response.status_code == 400


async def test_a_refused_chain_names_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"subject:Patient.nonsense": "x"})
    assert response.json()["issue"][0]["expression"] == ["subject:Patient.nonsense"]


def _group(*members: dict) -> dict:
    return {"resourceType": "Group", "type": "person", "actual": True, "member": [{"entity": m} for m in members]}


async def test_chain_into_a_reverse_link_keeps_the_reverse_link(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    bob = await create(client, patient())
    cohort = await create(client, _group(ref(ada)))
    await create(client, _group(ref(bob)))
    hit = await create(client, appointment(start="2025-01-01T09:00:00Z", patient=ref(ada)))
    await create(client, appointment(start="2025-01-01T10:00:00Z", patient=ref(bob)))
    found = await search(client, "Appointment", {"patient:Patient._has:Group:member:_id": cohort["id"]})
    assert ids(found) == {hit["id"]}


async def test_chain_into_a_reverse_link_without_a_type_modifier_matches(client: httpx.AsyncClient) -> None:
    ada = await create(client, patient())
    cohort = await create(client, _group(ref(ada)))
    hit = await create(client, appointment(start="2025-01-01T09:00:00Z", patient=ref(ada)))
    await create(client, appointment(start="2025-01-01T10:00:00Z", patient=ref(await create(client, patient()))))
    found = await search(client, "Appointment", {"patient._has:Group:member:_id": cohort["id"]})
    assert ids(found) == {hit["id"]}
