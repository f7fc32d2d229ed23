"""A slot freed in the night is offered when the offer can actually be sent (after the candidate's quiet hours,
21:00-08:00 local), and the hold starts then; a candidate who cannot be told before the slot starts is passed
over for the next one."""

from __future__ import annotations

from datetime import datetime

from tests.fixtures.journeys import Clinic, at
from tests.fixtures.stores import TESTS
from tests.waitlist.test_offers import SERVICE, offers_of, waitlisted

from fhircrm.clock import fhir_datetime, parse_fhir_datetime
from fhircrm.stores import open_store
from fhircrm.timers.resources import data_of, timer_key
from fhircrm.waitlist.offers import accept_offer, offer_freed_slot

NIGHT = at(17, 7)  # 03:00 in New York (EDT), the clinic's zone
MORNING = at(17, 12)  # 08:00 in New York: quiet hours are over


async def _freed_slot(clinic: Clinic, start: datetime) -> dict:
    patient = await clinic.patient()
    return await clinic.appointment(patient, start=start, status="cancelled", serviceType=[SERVICE])


async def _offer(clinic: Clinic, slot: dict, now: datetime) -> int:
    async with clinic.engine.begin() as conn:
        return await offer_freed_slot(
            open_store(conn, clinic.settings, policy=TESTS), slot, settings=clinic.settings, now=now
        )


async def test_a_night_time_offer_goes_out_in_the_morning_and_its_hold_starts_then(clinic: Clinic) -> None:
    first, second = await waitlisted(clinic), await waitlisted(clinic)
    slot = await _freed_slot(clinic, at(20, 15))
    assert await _offer(clinic, slot, NIGHT) == 2

    offers = await offers_of(clinic, slot)
    assert set(offers) == {first["id"], second["id"]}
    for offer in offers.values():
        assert parse_fhir_datetime(offer["occurrenceDateTime"]) == MORNING
        assert data_of(offer)["hold_expires"] == fhir_datetime(at(17, 14))  # 08:00 + the 120-minute hold
    found = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{slot['id']}"})
    [hold] = [r for r in found if timer_key(r).startswith("waitlist-hold:")]
    assert parse_fhir_datetime(hold["occurrenceDateTime"]) == at(17, 14)

    assert await clinic.sweep(at(17, 9)) == 0  # nothing is sent into the night, no hold runs out unseen
    assert await clinic.sweep(MORNING) == 2
    async with clinic.engine.begin() as conn:
        booked = await accept_offer(
            open_store(conn, clinic.settings, policy=TESTS), slot_id=slot["id"], entry_id=first["id"], now=at(17, 13)
        )
    assert booked["status"] == "booked"


async def test_a_candidate_who_cannot_be_told_before_the_slot_is_passed_over(clinic: Clinic) -> None:
    in_new_york = await waitlisted(clinic)
    in_tokyo = await waitlisted(clinic)
    patient = next(p["actor"]["reference"] for p in in_tokyo["participant"])
    tokyo = (await clinic.search("Patient", _id=patient.split("/")[1]))[0]
    tz = {"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": "Asia/Tokyo"}
    await clinic.change(tokyo, extension=[tz])  # 16:00 in Tokyo: a fine time to text
    slot = await _freed_slot(clinic, at(17, 11, 30))  # before New York's morning

    assert await _offer(clinic, slot, NIGHT) == 1
    offers = await offers_of(clinic, slot)
    assert set(offers) == {in_tokyo["id"]}
    assert in_new_york["id"] not in offers
    assert parse_fhir_datetime(offers[in_tokyo["id"]]["occurrenceDateTime"]) == NIGHT
