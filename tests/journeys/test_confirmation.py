"""A patient's "C" reply confirms the appointment: the pending confirmation message and the high-risk call are
revoked (AppointmentConfirmed), the T-24h reminder still goes out."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.journeys import Clinic, at, unique
from tests.fixtures.stores import TESTS

from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.stores import open_store
from fhircrm.timers.resources import timer_key

PHONE = "+15550100123"


def by_step(requests: list[dict]) -> dict[str, str]:
    return {(timer_key(r) or "").split(":")[1]: r["status"] for r in requests}


async def high_risk_booking(clinic: Clinic) -> dict:
    """A patient who missed two visits books one 10 days ahead: high risk under the shipped model."""
    patient = await clinic.patient(telecom=[{"system": "phone", "value": PHONE, "use": "mobile"}])
    for day in (2, 3):
        await clinic.appointment(patient, start=at(day, 15), status="noshow", created=at(1, 9))
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    return booked


async def reply(clinic: Clinic, text: str) -> None:
    async with clinic.engine.begin() as conn:
        message = InboundMessage(
            channel="sms", provider="twilio", provider_id=f"SM{unique()}", address=PHONE, text=text
        )
        await receive(open_store(conn, clinic.settings, policy=TESTS), clinic.settings, message)
    await clinic.process_events()


async def test_a_c_reply_revokes_the_confirmation_and_the_high_risk_call_but_keeps_the_reminder(
    clinic: Clinic,
) -> None:
    booked = await high_risk_booking(clinic)
    planned = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{booked['id']}"})
    assert by_step(planned) == {"confirm": "active", "remind": "active", "call-high-risk": "active"}
    await reply(clinic, "C")
    after = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{booked['id']}"})
    assert by_step(after) == {"confirm": "revoked", "remind": "active", "call-high-risk": "revoked"}


async def test_after_a_c_reply_no_call_task_is_created_when_the_call_would_have_been_due(clinic: Clinic) -> None:
    booked = await high_risk_booking(clinic)
    await reply(clinic, "C")
    await clinic.sweep(at(20, 15) - timedelta(hours=47))
    tasks = await clinic.search("Task", focus=f"Appointment/{booked['id']}")
    assert [t for t in tasks if (timer_key(t) or "").startswith("appointment:call-high-risk:")] == []
    sent = await clinic.search(
        "CommunicationRequest", status="completed", **{"based-on": f"Appointment/{booked['id']}"}
    )
    assert by_step(sent) == {}  # the confirmation was due at T-72h, but revoked: not sent


async def test_without_a_reply_the_high_risk_call_becomes_a_task(clinic: Clinic) -> None:
    booked = await high_risk_booking(clinic)
    await clinic.sweep(at(20, 15) - timedelta(hours=47))
    tasks = await clinic.search("Task", focus=f"Appointment/{booked['id']}")
    assert [t["priority"] for t in tasks if (timer_key(t) or "").startswith("appointment:call-high-risk:")] == [
        "urgent"
    ]
