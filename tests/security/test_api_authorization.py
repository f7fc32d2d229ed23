"""SMART authorization on the FHIR API: every refusal the issue names, and patient scopes that never leak."""

from __future__ import annotations

import time

import pytest
from tests.security.conftest import OTHER_KEY, clinic, seed, token

PATIENT_SCOPES = "launch openid fhirUser patient/*.rs patient/Task.cruds"


async def test_no_token_is_401_with_a_bearer_challenge(api, clean_engine) -> None:
    async with api(None) as client:
        response = await client.get("/Patient")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("claims", "key"),
    [
        (lambda now: {"exp": now - 600, "iat": now - 900, "nbf": now - 900}, None),
        (lambda now: {"aud": "https://another-server.example.org/fhir"}, None),
        (lambda now: {"iss": "https://impostor.example.org"}, None),
        (lambda now: {}, OTHER_KEY),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "wrong-signature"],
)
async def test_untrustworthy_tokens_are_401_invalid_token(api, clean_engine, claims, key) -> None:
    at_run = claims(int(time.time()))  # not at collection: a long suite must not age the tokens
    bearer = token("user/*.rs", **at_run) if key is None else token("user/*.rs", key=key, **at_run)
    async with api(bearer) as client:
        response = await client.get("/Patient")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_missing_scope_letter_is_403_and_stores_nothing(api, clean_engine) -> None:
    async with api(token("user/Patient.rs")) as client:
        refused = await client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "New"}]})
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    async with api(token("user/Patient.rs")) as client:
        assert (await client.get("/Patient", params={"_summary": "count"})).json()["total"] == 0


@pytest.mark.parametrize("resource", ["Appointment/appt-p2", "Communication/msg-p2", "Task/task-p2", "Patient/p2"])
async def test_a_patient_token_cannot_read_another_patients_data(api, clean_engine, resource) -> None:
    await seed(clean_engine, *clinic())
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        own = await client.get(f"/{resource.replace('p2', 'p1')}")
        other = await client.get(f"/{resource}")
    assert own.status_code == 200
    assert other.status_code == 403


async def test_a_patient_token_searches_only_its_own_compartment(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        appointments = (await client.get("/Appointment")).json()
        asked_for_p2 = (await client.get("/Task", params={"patient": "Patient/p2"})).json()
    assert [e["resource"]["id"] for e in appointments["entry"]] == ["appt-p1"]
    assert asked_for_p2.get("entry", []) == []


async def test_include_never_reaches_another_patient(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    # p1's Task focuses on p2's Appointment: the include would reach into p2's compartment
    await seed(
        clean_engine,
        {
            "resourceType": "Task",
            "id": "task-cross",
            "status": "ready",
            "intent": "order",
            "for": {"reference": "Patient/p1"},
            "focus": {"reference": "Appointment/appt-p2"},
        },
    )
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        bundle = (await client.get("/Task", params={"_id": "task-cross", "_include": "Task:focus"})).json()
    ids = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]
    assert ids == [("Task", "task-cross")]


async def test_shared_reference_data_stays_readable_with_patient_scopes(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        bundle = (await client.get("/Patient", params={"_include": "Patient:general-practitioner"})).json()
    assert {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]} == {
        ("Patient", "p1"),
        ("Practitioner", "dr-1"),
    }


async def test_a_transaction_with_one_forbidden_entry_is_refused_whole(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Task",
                    "status": "ready",
                    "intent": "order",
                    "for": {"reference": "Patient/p1"},
                },
                "request": {"method": "POST", "url": "Task"},
            },
            {
                "resource": {
                    "resourceType": "Task",
                    "status": "ready",
                    "intent": "order",
                    "for": {"reference": "Patient/p2"},
                },
                "request": {"method": "POST", "url": "Task"},
            },
        ],
    }
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        response = await client.post("", json=bundle)
        tasks = (await client.get("/Task", params={"_summary": "count"})).json()
    assert response.status_code == 403
    assert tasks["total"] == 1  # p1's own seeded task only: neither entry was stored


async def test_a_patient_token_cannot_move_its_task_to_another_patient(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        task = (await client.get("/Task/task-p1")).json()
        moved = await client.put("/Task/task-p1", json={**task, "for": {"reference": "Patient/p2"}})
        after = (await client.get("/Task/task-p1")).json()
    assert moved.status_code == 403
    assert after["for"] == {"reference": "Patient/p1"}


async def test_granular_scopes_narrow_by_their_query(api, clean_engine) -> None:
    await seed(
        clean_engine,
        *clinic(),
        {
            "resourceType": "Communication",
            "id": "msg-p1-email",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "category": [{"coding": [{"system": "http://fhircrm.org/CodeSystem/channel", "code": "email"}]}],
        },
    )
    scope = "patient/Communication.rs?channel=http://fhircrm.org/CodeSystem/channel|sms"
    async with api(token(scope, patient="p1")) as client:
        bundle = (await client.get("/Communication")).json()
        email = await client.get("/Communication/msg-p1-email")
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["msg-p1"]
    assert email.status_code == 403


async def test_everything_with_patient_scopes_holds_only_that_patient(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        own = (await client.get("/Patient/p1/$everything")).json()
        other = await client.get("/Patient/p2/$everything")
    assert {e["resource"]["id"] for e in own["entry"]} == {"p1", "appt-p1", "msg-p1", "task-p1"}
    assert other.status_code == 403


async def test_history_across_resources_needs_more_than_patient_scopes(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    async with api(token(PATIENT_SCOPES, patient="p1")) as client:
        assert (await client.get("/Task/_history")).status_code == 403
        assert (await client.get("/Task/task-p1/_history")).status_code == 200
        assert (await client.get("/Task/task-p2/_history")).status_code == 403
