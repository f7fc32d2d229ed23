"""The CapabilityStatement says exactly what the server does: checked against the server itself."""

from __future__ import annotations

import httpx
import pytest

from fhircrm.fhir.resource_types import RESOURCE_TYPES

#: A value of the right kind for each search parameter type.
SAMPLE = {
    "token": "urn:example|x",
    "string": "ada",
    "date": "ge2020-01-01",
    "reference": "Patient/p1",
    "number": "1",
    "quantity": "5||mg",
    "uri": "http://example.org/x",
}


async def statement(client: httpx.AsyncClient) -> dict:
    response = await client.get("/metadata")
    assert response.status_code == 200
    return response.json()


def resource_entry(capability: dict, resource_type: str) -> dict:
    return next(r for r in capability["rest"][0]["resource"] if r["type"] == resource_type)


async def test_metadata_is_an_r4_capability_statement(client: httpx.AsyncClient) -> None:
    capability = await statement(client)
    assert capability["resourceType"] == "CapabilityStatement"
    assert capability["fhirVersion"] == "4.0.1"
    assert "application/fhir+json" in capability["format"]


async def test_metadata_lists_exactly_the_stored_types(client: httpx.AsyncClient) -> None:
    capability = await statement(client)
    assert [r["type"] for r in capability["rest"][0]["resource"]] == list(RESOURCE_TYPES)


async def test_a_type_not_listed_answers_404(client: httpx.AsyncClient) -> None:
    capability = await statement(client)
    listed = {r["type"] for r in capability["rest"][0]["resource"]}
    assert "SubscriptionTopic" not in listed  # an R4B type, not R4
    assert (await client.get("/SubscriptionTopic")).status_code == 404
    assert (await client.post("/SubscriptionTopic", json={"resourceType": "SubscriptionTopic"})).status_code == 404


async def test_the_r4_types_r4b_dropped_are_listed_stored_and_searchable(client: httpx.AsyncClient) -> None:
    capability = await statement(client)
    listed = {r["type"]: r for r in capability["rest"][0]["resource"]}
    assert "MedicinalProduct" in listed and "SubstanceProtein" in listed
    product = {
        "resourceType": "MedicinalProduct",
        "identifier": [{"system": "urn:test", "value": "mp-1"}],
        "name": [{"productName": "Metformin 500 mg"}],
    }
    created = await client.post("/MedicinalProduct", json=product)
    assert created.status_code == 201, created.text
    found = (await client.get("/MedicinalProduct", params={"identifier": "urn:test|mp-1"})).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [created.json()["id"]]
    refused = await client.post("/MedicinalProduct", json={**product, "domain": {"code": "x"}, "nope": 1})
    assert refused.status_code == 422
    assert {"MedicinalProduct.nope"} <= {e for i in refused.json()["issue"] for e in i.get("expression", [])}
    assert (await client.post("/MedicinalProduct", json={"resourceType": "MedicinalProduct"})).status_code == 422


@pytest.mark.parametrize("resource_type", ["Patient", "Appointment", "Communication", "Task"])
async def test_every_listed_search_parameter_is_accepted_by_a_strict_search(
    client: httpx.AsyncClient, resource_type: str
) -> None:
    entry = resource_entry(await statement(client), resource_type)
    refused = []
    for param in entry["searchParam"]:
        if param["type"] not in SAMPLE:
            continue
        response = await client.get(
            f"/{resource_type}", params={param["name"]: SAMPLE[param["type"]]}, headers={"Prefer": "handling=strict"}
        )
        if response.status_code != 200:
            refused.append((param["name"], response.status_code))
    assert refused == []


async def test_every_listed_include_is_accepted(client: httpx.AsyncClient) -> None:
    entry = resource_entry(await statement(client), "Appointment")
    for include in entry["searchInclude"]:
        response = await client.get("/Appointment", params={"_include": include}, headers={"Prefer": "handling=strict"})
        assert response.status_code == 200, include


async def test_listed_system_interactions_work(client: httpx.AsyncClient) -> None:
    capability = await statement(client)
    codes = {i["code"] for i in capability["rest"][0]["interaction"]}
    assert codes == {"transaction", "batch", "history-system", "search-system"}
    empty = {"resourceType": "Bundle", "type": "batch", "entry": []}
    assert (await client.post("", json=empty)).status_code == 200
    assert (await client.post("", json={**empty, "type": "transaction"})).status_code == 200
    assert (await client.get("/_history")).status_code == 200
    assert (await client.get("/", params={"_type": "Patient"})).status_code == 200


async def test_listed_type_interactions_work_on_patient(client: httpx.AsyncClient) -> None:
    entry = resource_entry(await statement(client), "Patient")
    codes = {i["code"] for i in entry["interaction"]}
    assert codes == {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    }
    created = (await client.post("/Patient", json={"resourceType": "Patient"})).json()
    pid = created["id"]
    assert (await client.get(f"/Patient/{pid}")).status_code == 200
    assert (await client.get(f"/Patient/{pid}/_history/1")).status_code == 200
    assert (await client.put(f"/Patient/{pid}", json={**created, "active": True})).status_code == 200
    patch = b'[{"op": "add", "path": "/gender", "value": "other"}]'
    headers = {"Content-Type": "application/json-patch+json"}
    assert (await client.patch(f"/Patient/{pid}", content=patch, headers=headers)).status_code == 200
    assert (await client.get(f"/Patient/{pid}/_history")).status_code == 200
    assert (await client.get("/Patient/_history")).status_code == 200
    assert (await client.get("/Patient")).status_code == 200
    assert (await client.delete(f"/Patient/{pid}")).status_code == 204


async def test_no_listed_operation_answers_not_supported(client: httpx.AsyncClient) -> None:
    capability = await statement(client)
    listed = {(r["type"], o["name"]) for r in capability["rest"][0]["resource"] for o in r.get("operation", [])}
    assert ("Patient", "everything") in listed
    unsupported = (await client.get("/Patient/p1/$no-such-operation")).status_code
    type_level = {("Patient", "export")}  # Bulk Data: GET /Patient/$export; the others are instance-level
    answers = {
        (t, name): (
            await client.get(f"/{t}/${name}" if (t, name) in type_level else f"/{t}/some-id/${name}")
        ).status_code
        for t, name in sorted(listed)
    }
    assert unsupported == 501
    assert {op: status for op, status in answers.items() if status == unsupported} == {}


async def test_patient_everything_answers(client: httpx.AsyncClient) -> None:
    pid = (await client.post("/Patient", json={"resourceType": "Patient"})).json()["id"]
    assert (await client.get(f"/Patient/{pid}/$everything")).status_code == 200


async def test_conditional_flags_match_what_works(client: httpx.AsyncClient) -> None:
    entry = resource_entry(await statement(client), "Patient")
    assert entry["conditionalCreate"] is True
    assert entry["conditionalUpdate"] is True
    assert entry["conditionalDelete"] == "multiple"
    assert entry["conditionalRead"] == "not-supported"
