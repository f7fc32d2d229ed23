"""A patient's objection to data sharing hides their engagement data from $everything, except from themself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import clinic, seed, token

from fhircrm.ehr.objections import CONSENT_ACTION


def objection(patient_id: str) -> dict:
    return {
        "resourceType": "Consent",
        "id": f"optout-{patient_id}",
        "status": "active",
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT"}]},
        "provision": {"type": "deny", "action": [{"coding": [{"system": CONSENT_ACTION, "code": "disclose"}]}]},
    }


def flag(patient_id: str) -> dict:
    return {
        "resourceType": "Flag",
        "id": f"flag-{patient_id}",
        "status": "active",
        "code": {"text": "prefers mornings"},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


async def _exported(api, bearer: str, patient_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    async with api(bearer) as client:
        response = await client.get(f"/Patient/{patient_id}/$everything")
    assert response.status_code == 200, response.text
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in response.json()["entry"]}


async def test_an_objecting_patients_engagement_data_is_left_out_of_everything(api, clean_engine: AsyncEngine) -> None:
    await seed(clean_engine, *clinic(), flag("p1"), objection("p1"))
    exported = await _exported(api, token("user/*.rs"), "p1")
    assert {"Patient/p1", "Appointment/appt-p1", "Consent/optout-p1"} <= exported
    assert exported.isdisjoint({"Communication/msg-p1", "Task/task-p1", "Flag/flag-p1"})


async def test_the_objecting_patient_still_exports_their_own_engagement_data(api, clean_engine: AsyncEngine) -> None:
    await seed(clean_engine, *clinic(), flag("p1"), objection("p1"))
    exported = await _exported(api, token("patient/*.rs", patient="p1"), "p1")
    assert {"Communication/msg-p1", "Task/task-p1", "Flag/flag-p1"} <= exported


async def test_a_patient_without_an_objection_exports_everything(api, clean_engine: AsyncEngine) -> None:
    await seed(clean_engine, *clinic(), objection("p1"))
    exported = await _exported(api, token("user/*.rs"), "p2")
    assert {"Communication/msg-p2", "Task/task-p2"} <= exported


async def test_the_objection_is_honoured_even_when_the_caller_may_not_read_consents(
    api, clean_engine: AsyncEngine
) -> None:
    await seed(clean_engine, *clinic(), objection("p1"))
    scopes = "user/Patient.rs user/Appointment.rs user/Communication.rs user/Task.rs"
    exported = await _exported(api, token(scopes), "p1")
    assert exported == {"Patient/p1", "Appointment/appt-p1"}
