"""Validation against the official R4 definitions on every write (REST, batch, transaction) and through
``$validate``: each refusal names its element (OperationOutcome ``expression``) and, for codes, the value."""

from __future__ import annotations

import httpx
import pytest
from tests.fhir.bundles import bundle, post

APPOINTMENT = {
    "resourceType": "Appointment",
    "status": "booked",
    "start": "2026-12-01T09:00:00Z",
    "end": "2026-12-01T09:20:00Z",
    "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
}


def expressions(response: httpx.Response) -> set[str]:
    return {e for issue in response.json()["issue"] for e in issue.get("expression", [])}


@pytest.mark.parametrize(
    ("change", "element", "quoted"),
    [
        ({"status": "nope"}, "Appointment.status", "'nope'"),
        ({"participant": []}, "Appointment.participant", None),
        ({"status": None}, "Appointment.status", None),
        (
            {"participant": [{"actor": {"reference": "Patient/p1"}, "status": "maybe"}]},
            "Appointment.participant[0].status",
            "'maybe'",
        ),
        ({"start": "2026-12-01"}, "Appointment.start", None),  # an instant needs a time and a zone
        ({"start": "2026-02-30T09:00:00Z"}, "Appointment.start", None),
        ({"priority": -1}, "Appointment.priority", None),
        ({"priority": "1"}, "Appointment.priority", None),
        ({"comment": ""}, "Appointment.comment", None),
        ({"cancellationReason": {"text": "typo"}}, "Appointment.cancellationReason", None),
        (
            {"participant": {"actor": {"reference": "Patient/p1"}, "status": "accepted"}},
            "Appointment.participant",
            None,
        ),
        ({"description": ["two", "values"]}, "Appointment.description", None),
    ],
)
async def test_a_write_the_definitions_refuse_is_422_naming_the_element(
    client: httpx.AsyncClient, change: dict, element: str, quoted: str | None
) -> None:
    appointment = {k: v for k, v in {**APPOINTMENT, **change}.items() if v is not None}
    response = await client.post("/Appointment", json=appointment)
    assert response.status_code == 422, response.text
    assert element in expressions(response), response.text
    if quoted:
        assert any(quoted in issue["diagnostics"] for issue in response.json()["issue"])
    assert (await client.post("/Appointment", json=APPOINTMENT)).status_code == 201


async def test_codes_of_required_bindings_in_codings_and_other_types(client: httpx.AsyncClient) -> None:
    patient = {"resourceType": "Patient", "gender": "x", "deceasedBoolean": False, "deceasedDateTime": "2020"}
    response = await client.post("/Patient", json=patient)
    assert response.status_code == 422
    assert {"Patient.gender", "Patient.deceased[x]"} <= expressions(response)
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "whenever",
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]},
    }
    response = await client.post("/Task", json=task)
    assert response.status_code == 422
    assert expressions(response) == {"Task.priority"}


async def test_batch_and_transaction_entries_are_validated_the_same(client: httpx.AsyncClient) -> None:
    bad = {**APPOINTMENT, "status": "nope", "participant": []}
    batch = (await client.post("", json=bundle("batch", post(bad), post(APPOINTMENT)))).json()
    statuses = [e["response"]["status"] for e in batch["entry"]]
    assert statuses[0].startswith("422") and statuses[1].startswith("201")
    outcome = batch["entry"][0]["response"]["outcome"]
    named = {e for issue in outcome["issue"] for e in issue.get("expression", [])}
    assert {"Bundle.entry[0].resource.status", "Bundle.entry[0].resource.participant"} <= named
    transaction = await client.post("", json=bundle("transaction", post(APPOINTMENT), post(bad)))
    assert transaction.status_code == 422
    assert "Appointment.status" in " ".join(i["diagnostics"] for i in transaction.json()["issue"])


# --- $validate -----------------------------------------------------------------------------------------------------


async def test_validate_at_type_level_answers_an_outcome_naming_each_element(client: httpx.AsyncClient) -> None:
    fine = await client.post("/Appointment/$validate", json=APPOINTMENT)
    assert fine.status_code == 200
    assert [i["severity"] for i in fine.json()["issue"]] == ["information"]
    bad = await client.post("/Appointment/$validate", json={**APPOINTMENT, "status": "nope", "participant": []})
    assert bad.status_code == 200
    assert {"Appointment.status", "Appointment.participant"} <= expressions(bad)
    assert (await client.get("/Appointment", params={"status": "booked"})).json().get("entry", []) == []


async def test_validate_checks_the_invariants(client: httpx.AsyncClient) -> None:
    broken = {**APPOINTMENT, "participant": [{"status": "accepted"}]}
    del broken["end"]
    response = await client.post("/Appointment/$validate", json=broken)
    assert response.status_code == 200
    diagnostics = " ".join(i["diagnostics"] for i in response.json()["issue"])
    assert "(app-1)" in diagnostics and "(app-2)" in diagnostics
    assert {"Appointment", "Appointment.participant[0]"} <= expressions(response)


async def test_validate_takes_parameters_with_mode_and_profile(client: httpx.AsyncClient) -> None:
    def parameters(mode: str, profile: str | None = None) -> dict:
        params = [{"name": "resource", "resource": APPOINTMENT}, {"name": "mode", "valueCode": mode}]
        if profile:
            params.append({"name": "profile", "valueUri": profile})
        return {"resourceType": "Parameters", "parameter": params}

    core = "http://hl7.org/fhir/StructureDefinition/Appointment"
    ok = await client.post("/Appointment/$validate", json=parameters("create", core))
    assert [i["severity"] for i in ok.json()["issue"]] == ["information"]
    unknown = await client.post("/Appointment/$validate", json=parameters("create", "http://example.org/nope"))
    assert expressions(unknown) == {"profile"}
    no_id = await client.post("/Appointment/$validate", json=parameters("update"))
    assert expressions(no_id) == {"Appointment.id"}
    assert (await client.post("/Appointment/$validate", json=parameters("sideways"))).status_code == 400
    assert (await client.post("/Appointment/$validate", json=parameters("delete"))).status_code == 400
    assert (await client.post("/Patient/$validate", json=APPOINTMENT)).status_code == 400
    assert (await client.post("/Nope/$validate", json=APPOINTMENT)).status_code == 404


async def test_validate_at_instance_level(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Appointment", json=APPOINTMENT)).json()
    url = f"/Appointment/{created['id']}/$validate"
    same = await client.post(url, json={**created, "status": "arrived"})
    assert [i["severity"] for i in same.json()["issue"]] == ["information"]
    other = await client.post(url, json={**created, "id": "someone-else"})
    assert expressions(other) == {"Appointment.id"}
    delete = await client.post(url, params={"mode": "delete"})
    assert [i["severity"] for i in delete.json()["issue"]] == ["information"]
    assert (await client.post("/Appointment/unknown-1/$validate", json=created)).status_code == 404
