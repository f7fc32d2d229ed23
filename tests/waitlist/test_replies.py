"""A yes by SMS or WhatsApp to a slot offer books the slot: the first yes wins, the others are told it is gone."""

from __future__ import annotations

from tests.fixtures.journeys import Clinic, unique
from tests.fixtures.stores import TESTS
from tests.waitlist.test_offers import SERVICE, cancel_a_cardiology_slot, offers_of

from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.clock import current_time, parse_fhir_datetime
from fhircrm.stores import open_store
from fhircrm.timers.resources import timer_key
from fhircrm.waitlist.offers import RECOVERED_SYSTEM, recovered_slots


async def waitlisted_with_phone(clinic: Clinic, phone: str) -> dict:
    patient = await clinic.patient(telecom=[{"system": "phone", "value": phone, "use": "mobile"}])
    return await clinic.write(
        {
            "resourceType": "Appointment",
            "status": "waitlist",
            "serviceType": [SERVICE],
            "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "needs-action"}],
        }
    )


async def reply(clinic: Clinic, phone: str, text: str, channel: str = "sms") -> None:
    async with clinic.engine.begin() as conn:
        message = InboundMessage(
            channel=channel, provider="twilio", provider_id=f"SM{unique()}", address=phone, text=text
        )
        await receive(open_store(conn, clinic.settings, policy=TESTS), clinic.settings, message)
    await clinic.process_events()


async def entry(clinic: Clinic, waitlisted: dict) -> dict:
    return (await clinic.search("Appointment", _id=waitlisted["id"]))[0]


async def offered_slot(clinic: Clinic) -> dict:
    slot = await cancel_a_cardiology_slot(clinic)
    offers = (await offers_of(clinic, slot)).values()
    due = max([current_time(clinic.settings), *(parse_fhir_datetime(o["occurrenceDateTime"]) for o in offers)])
    await clinic.sweep(due)  # the offers go out (in the morning, when the test runs in the clinic's night)
    return slot


async def test_a_yes_reply_to_an_offer_books_the_slot_for_that_patient(clinic: Clinic) -> None:
    waiting = await waitlisted_with_phone(clinic, "+15550100201")
    slot = await offered_slot(clinic)
    await reply(clinic, "+15550100201", "YES")
    booked = await entry(clinic, waiting)
    assert (booked["status"], booked["start"]) == ("booked", slot["start"])
    assert {"system": RECOVERED_SYSTEM, "value": slot["id"]} in booked["identifier"]


async def test_the_first_yes_wins_and_the_later_one_is_told_the_slot_is_gone(clinic: Clinic) -> None:
    first = await waitlisted_with_phone(clinic, "+15550100202")
    second = await waitlisted_with_phone(clinic, "+15550100203")
    slot = await offered_slot(clinic)
    await reply(clinic, "+15550100203", "SI", channel="whatsapp")
    await reply(clinic, "+15550100202", "1")
    assert (await entry(clinic, second))["status"] == "booked"
    assert (await entry(clinic, first))["status"] == "waitlist"
    told = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{first['id']}"})
    assert [timer_key(r) for r in told if timer_key(r).startswith("waitlist-gone:")] == [
        f"waitlist-gone:{slot['id']}:{first['id']}"
    ]
    async with clinic.engine.connect() as conn:
        assert await recovered_slots(open_store(conn, policy=TESTS)) == 1


async def test_a_reply_that_is_not_a_yes_books_nothing(clinic: Clinic) -> None:
    waiting = await waitlisted_with_phone(clinic, "+15550100204")
    await offered_slot(clinic)
    await reply(clinic, "+15550100204", "yes but only after 5pm")
    assert (await entry(clinic, waiting))["status"] == "waitlist"


async def test_a_yes_that_answers_another_message_books_no_offer(clinic: Clinic) -> None:
    from fhircrm.waitlist.replies import accept_from_reply

    waiting = await waitlisted_with_phone(clinic, "+15550100205")
    await offered_slot(clinic)
    patient = waiting["participant"][0]["actor"]["reference"]
    survey = await clinic.write(
        {"resourceType": "Communication", "status": "completed", "recipient": [{"reference": patient}]}
    )
    yes = {
        "resourceType": "Communication",
        "status": "completed",
        "sender": {"reference": patient},
        "payload": [{"contentString": "YES"}],
        "inResponseTo": [{"reference": f"Communication/{survey['id']}"}],
    }
    async with clinic.engine.begin() as conn:
        assert (
            await accept_from_reply(
                open_store(conn, clinic.settings, policy=TESTS), yes, now=current_time(clinic.settings)
            )
            is None
        )
    assert (await entry(clinic, waiting))["status"] == "waitlist"
