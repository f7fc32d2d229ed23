"""A patient's "C" reply to an EHR appointment reaches the EHR (SEKMET) by default: the patient participant
becomes ``accepted`` there, once; a patient who objects to data sharing is not written back."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa
from tests.fixtures.sekmet import Stack, book_in_ehr, wait_for
from tests.fixtures.stores import TESTS

from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.ehr.appointment_replies import APPOINTMENT_REPLY_JOB, apply_reply
from fhircrm.ehr.mirror import ehr_marks
from fhircrm.errors import NotFound
from fhircrm.jobs.tables import job
from fhircrm.stores import open_store
from fhircrm.subscriptions import registration

pytestmark = pytest.mark.slow
WATCHED = ["criteria-patient-updated", "criteria-appointment-booked", "criteria-appointment-cancelled"]


async def _ehr(stack: Stack, reference: str) -> dict:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"{stack.ehr.base_url}/{reference}")).json()


async def _local(stack: Stack, resource_type: str, fhir_id: str) -> dict | None:
    async with stack.engine.connect() as conn:
        try:
            return (await open_store(conn, stack.settings, policy=TESTS).read(resource_type, fhir_id)).content
        except NotFound:
            return None


async def _booked_in_the_ehr(stack: Stack, phone: str) -> tuple[dict, dict]:
    await registration.register(stack.ehr_client(), stack.settings, kind="criteria", names=WATCHED)
    patient, appointment = await book_in_ehr(stack.ehr, family="Reply", phone=phone)

    async def mirrored() -> bool:
        return bool(
            await _local(stack, "Patient", patient["id"]) and await _local(stack, "Appointment", appointment["id"])
        )

    await wait_for(mirrored, within=10, interval=0.1)
    return patient, appointment


async def _reply(stack: Stack, phone: str, text: str) -> None:
    async with stack.engine.begin() as conn:
        message = InboundMessage("sms", "twilio", f"SM{uuid.uuid4().hex}", phone, text)
        await receive(open_store(conn, stack.settings, policy=TESTS), stack.settings, message)


async def _reply_jobs_done(stack: Stack) -> bool:
    async with stack.engine.connect() as conn:
        rows = list(await conn.execute(sa.select(job.c.status).where(job.c.kind == APPOINTMENT_REPLY_JOB)))
    return bool(rows) and all(status == "done" for (status,) in rows)


async def test_a_c_reply_makes_the_ehr_participant_accepted_once(stack: Stack) -> None:
    phone = "+1555" + str(uuid.uuid4().int)[:7]
    patient, appointment = await _booked_in_the_ehr(stack, phone)
    await _reply(stack, phone, "C")

    async def accepted_in_the_ehr() -> bool:
        theirs = await _ehr(stack, f"Appointment/{appointment['id']}")
        return theirs["participant"][0]["status"] == "accepted"

    await wait_for(accepted_in_the_ehr, within=10, interval=0.1)

    async def echo_mirrored() -> bool:  # the EHR's notification of our own change came back and was applied
        source, _ = ehr_marks(await _local(stack, "Appointment", appointment["id"]))
        return (source or "").endswith("/_history/2")

    await wait_for(echo_mirrored, within=10, interval=0.1)
    await wait_for(lambda: _reply_jobs_done(stack), within=10, interval=0.1)
    theirs = await _ehr(stack, f"Appointment/{appointment['id']}")
    assert theirs["meta"]["versionId"] == "2"  # written once: the echo wrote nothing back
    assert theirs["status"] == "booked"
    assert theirs["participant"][0]["actor"]["reference"] == f"Patient/{patient['id']}"


async def test_a_patient_who_objects_to_sharing_is_not_written_back(stack: Stack) -> None:
    phone = "+1555" + str(uuid.uuid4().int)[:7]
    patient, appointment = await _booked_in_the_ehr(stack, phone)
    async with stack.engine.begin() as conn:
        await open_store(conn, stack.settings, policy=TESTS).create(
            {
                "resourceType": "Consent",
                "status": "active",
                "scope": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
                    ]
                },
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": f"Patient/{patient['id']}"},
                "policyRule": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT"}]
                },
                "provision": {
                    "type": "deny",
                    "action": [
                        {
                            "coding": [
                                {"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "disclose"}
                            ]
                        }
                    ],
                },
            }
        )
    await _reply(stack, phone, "C")
    await wait_for(lambda: _reply_jobs_done(stack), within=10, interval=0.1)
    local = await _local(stack, "Appointment", appointment["id"])
    assert local and local["participant"][0]["status"] == "accepted"
    theirs = await _ehr(stack, f"Appointment/{appointment['id']}")
    assert theirs["participant"][0]["status"] == "needs-action"
    assert theirs["meta"]["versionId"] == "1"


def test_a_cancellation_by_the_patient_is_applied_to_the_ehrs_copy_only_where_it_differs() -> None:
    reason = {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": "pat"}]
    }
    theirs = {
        "resourceType": "Appointment",
        "id": "a1",
        "status": "booked",
        "comment": "the EHR's own note",
        "participant": [{"actor": {"reference": "http://ehr/fhir/Patient/p1"}, "status": "needs-action"}],
    }
    ours = {**theirs, "status": "cancelled", "cancelationReason": reason, "comment": "ours"}
    ours["participant"] = [{"actor": {"reference": "Patient/p1"}, "status": "declined"}]
    written = apply_reply(ours, theirs)
    assert written is not None
    assert (written["status"], written["participant"][0]["status"], written["comment"]) == (
        "cancelled",
        "declined",
        "the EHR's own note",
    )
    assert apply_reply(ours, written) is None  # already so in the EHR: no call
