"""Roles narrow user/ scopes at the FHIR API: a coordinator reaches their team's patients, a clinician their own,
a supervisor their organization's, an administrator configuration and no patient data; nobody else anything.

The clinic is ``roles_clinic.two_sites``; every test runs on PostgreSQL and SQLite."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import FHIR_BASE, USER_SCOPES, Client, client_of, secured_app, seed, token
from tests.security.roles_clinic import ALL_PATIENTS, NURSE_CODE, SNOMED, TEAM_PATIENTS, two_sites
from tests.security.test_audit_events import audit_events, references

from fhircrm.config import CRM_ROLE_SYSTEM


async def found(client: httpx.AsyncClient, path: str, **params: str) -> set[str]:
    response = await client.get(path, params={"_count": "100", **params})
    assert response.status_code == 200, response.text
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in response.json().get("entry", [])}


def patients(*ids: str) -> set[str]:
    return {f"Patient/{i}" for i in ids}


def refused(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"
    return outcome["issue"][0]["diagnostics"]


# --- coordinator -----------------------------------------------------------------------------------------------


async def test_a_coordinator_searches_only_the_patients_of_their_team(as_user: Client) -> None:
    async with as_user("co-n") as client:
        assert await found(client, "/Patient") == patients(*TEAM_PATIENTS["north"])


async def test_a_coordinator_reading_a_patient_outside_their_teams_gets_403(as_user: Client) -> None:
    async with as_user("co-n") as client:
        assert (await client.get("/Patient/pat-n1")).status_code == 200
        refused(await client.get("/Patient/pat-s1"))
        refused(await client.get("/Communication/msg-pat-s1"))


async def test_a_coordinator_sees_the_tasks_of_their_teams_patients_and_those_they_own(as_user: Client) -> None:
    async with as_user("co-n") as client:
        assert await found(client, "/Task") == {"Task/task-pat-n1", "Task/task-pat-n2", "Task/task-owned"}


async def test_include_of_an_owned_task_does_not_bring_an_outside_patient_along(as_user: Client) -> None:
    async with as_user("co-n") as client:
        assert await found(client, "/Task", _id="task-owned", _include="Task:patient") == {"Task/task-owned"}


async def test_revinclude_does_not_leak_patients_outside_the_team(as_user: Client) -> None:
    async with as_user("co-n") as client:
        south = await found(client, "/PractitionerRole", _id="role-dr-s", _revinclude="Patient:general-practitioner")
        messages = await found(client, "/Patient", _revinclude="Communication:subject")
    assert south == {"PractitionerRole/role-dr-s"}  # reference data yes, the south GP's patient no
    assert messages == patients(*TEAM_PATIENTS["north"]) | {"Communication/msg-pat-n1", "Communication/msg-pat-n2"}


async def test_everything_and_history_of_an_outside_patient_are_refused(as_user: Client) -> None:
    async with as_user("co-n") as client:
        refused(await client.get("/Patient/pat-s1/$everything"))
        refused(await client.get("/Patient/pat-s1/_history"))
        refused(await client.get("/Task/_history"))  # a type's history enumerates what the team may not see
        everything = await found(client, "/Patient/pat-n1/$everything")
    assert everything == {"Patient/pat-n1", "Task/task-pat-n1", "Communication/msg-pat-n1"}


async def test_a_coordinator_cannot_write_into_an_outside_patients_record(as_user: Client) -> None:
    task = {"resourceType": "Task", "status": "ready", "intent": "order"}
    async with as_user("co-n") as client:
        refused(await client.post("/Task", json={**task, "for": {"reference": "Patient/pat-s1"}}))
        created = await client.post("/Task", json={**task, "for": {"reference": "Patient/pat-n1"}})
    assert created.status_code == 201


async def test_a_practitioner_role_as_fhir_user_stands_for_its_practitioner(as_user: Client) -> None:
    async with as_user("co-n", fhirUser="PractitionerRole/role-co-n") as client:
        assert await found(client, "/Patient") == patients(*TEAM_PATIENTS["north"])


async def test_an_ehr_launch_puts_its_patient_within_a_coordinators_reach(as_user: Client) -> None:
    task = {"resourceType": "Task", "status": "ready", "intent": "order", "for": {"reference": "Patient/pat-s1"}}
    async with as_user("co-n", patient="pat-s1") as client:
        assert (await client.get("/Patient/pat-s1")).status_code == 200
        assert (await client.post("/Task", json=task)).status_code == 201
        refused(await client.get("/Patient/pat-ct"))  # only the launch patient, not the rest of the south team
    async with as_user("adm", patient="pat-s1") as admin:
        refused(await admin.get("/Patient/pat-s1"))  # a launch gives no patient data to a non-clinical role


async def test_an_absolute_fhir_user_url_names_the_same_person(as_user: Client) -> None:
    async with as_user("co-n", fhirUser=f"{FHIR_BASE}/Practitioner/co-n") as client:
        assert await found(client, "/Patient") == patients(*TEAM_PATIENTS["north"])


async def test_a_fhir_user_that_is_not_one_reference_has_no_role(as_user: Client) -> None:
    async with as_user("co-n", fhirUser="Practitioner/co-n,Practitioner/sup") as client:
        assert "no fhircrm role" in refused(await client.get("/Patient"))


# --- clinician, supervisor, administrator ----------------------------------------------------------------------


async def test_a_clinician_reaches_their_patients_by_gp_and_care_team(as_user: Client) -> None:
    async with as_user("dr-s") as client:
        assert await found(client, "/Patient") == patients(*TEAM_PATIENTS["south"])
        assert await found(client, "/Task") == {"Task/task-pat-s1", "Task/task-pat-ct"}


async def test_a_clinician_messages_their_patients_but_does_not_change_them(as_user: Client) -> None:
    async with as_user("dr-s") as client:
        current = (await client.get("/Patient/pat-s1")).json()
        diagnostics = refused(await client.put("/Patient/pat-s1", json={**current, "gender": "other"}))
        sent = await client.post(
            "/Communication",
            json={"resourceType": "Communication", "status": "completed", "subject": {"reference": "Patient/pat-s1"}},
        )
    assert "clinician" in diagnostics
    assert sent.status_code == 201


async def test_a_supervisor_reaches_every_patient_of_their_organization(as_user: Client) -> None:
    async with as_user("sup") as client:
        assert await found(client, "/Patient") == patients(*(ALL_PATIENTS - {"pat-x"}))


async def test_an_administrator_configures_journeys_but_gets_no_patient_data(as_user: Client) -> None:
    journey = {"resourceType": "PlanDefinition", "status": "draft", "name": "Reminders"}
    async with as_user("adm") as admin, as_user("co-n") as coordinator:
        assert "no access to patient data" in refused(await admin.get("/Patient"))
        refused(await admin.get("/Task/task-pat-n1"))
        assert (await admin.post("/PlanDefinition", json=journey)).status_code == 201
        assert "only administrators" in refused(await coordinator.post("/PlanDefinition", json=journey))
        assert (await coordinator.get("/PlanDefinition")).status_code == 200  # reading configuration is fine


async def test_the_inbox_stream_applies_roles_too(clinic_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=clinic_app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {token(USER_SCOPES, fhirUser='Practitioner/adm')}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as admin:
        response = await admin.get("/api/inbox/stream")
    assert "no access to patient data" in refused(response)  # up front, not an empty stream


# --- who is not subject to roles, and who has none ---------------------------------------------------------------


async def test_a_user_without_a_mapped_role_gets_a_clear_403(as_user: Client) -> None:
    async with as_user("7") as unknown, as_user("idle") as inactive:
        assert "no fhircrm role" in refused(await unknown.get("/Patient"))
        assert "no fhircrm role" in refused(await inactive.get("/Patient"))


async def test_patient_and_system_tokens_are_not_subject_to_roles(as_user: Client) -> None:
    async with as_user("7", "patient/*.rs", patient="pat-x") as launched, as_user("7", "system/*.rs") as backend:
        assert (await launched.get("/Patient/pat-x")).status_code == 200
        assert await found(backend, "/Patient") == patients(*ALL_PATIENTS)


async def test_roles_never_widen_what_the_scopes_allow(as_user: Client) -> None:
    async with as_user("sup", "user/Patient.rs") as client:
        response = await client.get("/Task")
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_a_hospitals_own_code_maps_to_a_role_through_settings(clean_engine, database_url) -> None:
    await seed(clean_engine, *two_sites())
    bearer = token(USER_SCOPES, fhirUser="Practitioner/nurse")
    async with secured_app(clean_engine, database_url, roles_enforced=True) as app, client_of(app, bearer) as client:
        refused(await client.get("/Patient"))  # SNOMED is not mapped by default
    codes = {f"{CRM_ROLE_SYSTEM}|clinician": "clinician", f"{SNOMED}|{NURSE_CODE}": "clinician"}
    async with (
        secured_app(clean_engine, database_url, roles_enforced=True, roles_code_map=codes) as app,
        client_of(app, bearer) as client,
    ):
        assert await found(client, "/Patient") == patients("pat-s1")


async def test_scopes_alone_decide_when_roles_are_not_enforced(clean_engine, database_url) -> None:
    await seed(clean_engine, *two_sites())
    bearer = token(USER_SCOPES, fhirUser="Practitioner/7")
    async with secured_app(clean_engine, database_url, roles_enforced=False) as app, client_of(app, bearer) as client:
        assert await found(client, "/Patient") == patients(*ALL_PATIENTS)


async def test_a_role_refusal_is_audited(as_user: Client, clean_engine: AsyncEngine) -> None:
    async with as_user("co-n") as client:
        refused(await client.get("/Patient/pat-s1"))
    [event] = [e for e in await audit_events(clean_engine) if e["outcome"] != "0"]
    assert (event["action"], event["outcome"], event["outcomeDesc"]) == ("R", "4", "403 forbidden")
    assert event["agent"][0]["who"] == {"reference": "Practitioner/co-n"}
    assert references(event) == ["Patient/pat-s1"]
