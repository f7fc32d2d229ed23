"""A freed slot goes to the waitlist: best candidates offered with a hold, first acceptance wins, others told."""

from __future__ import annotations

import pytest
from tests.fixtures.journeys import Clinic, at
from tests.fixtures.stores import TESTS

from fhircrm.clock import current_time
from fhircrm.errors import Conflict
from fhircrm.stores import open_store
from fhircrm.timers.resources import timer_key
from fhircrm.waitlist.offers import accept_offer, recovered_slots

SERVICE = {"coding": [{"system": "http://fhircrm.org/CodeSystem/service-line", "code": "cardiology"}]}


async def waitlisted(clinic: Clinic, *, priority: int | None = None, service: dict = SERVICE) -> dict:
    patient = await clinic.patient()
    body: dict = {
        "resourceType": "Appointment",
        "status": "waitlist",
        "serviceType": [service],
        "requestedPeriod": [{"start": "2031-06-01T00:00:00Z", "end": "2031-06-30T00:00:00Z"}],
        "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "needs-action"}],
    }
    if priority:
        body["priority"] = priority
    return await clinic.write(body)


async def cancel_a_cardiology_slot(clinic: Clinic) -> dict:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15), serviceType=[SERVICE])
    await clinic.process_events()
    cancelled = await clinic.change(booked, status="cancelled")
    await clinic.process_events()
    return cancelled


async def offers_of(clinic: Clinic, slot: dict) -> dict[str, dict]:
    found = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{slot['id']}"})
    return {timer_key(r).split(":")[2]: r for r in found if timer_key(r).startswith("waitlist-offer:")}


async def test_a_cancelled_slot_is_offered_to_the_best_ranked_fitting_candidates(clinic: Clinic) -> None:
    urgent = await waitlisted(clinic, priority=1)
    older = await waitlisted(clinic)
    other_service = {"coding": [{"system": "http://fhircrm.org/CodeSystem/service-line", "code": "dermatology"}]}
    unfit = await waitlisted(clinic, service=other_service)
    slot = await cancel_a_cardiology_slot(clinic)
    offers = await offers_of(clinic, slot)
    assert set(offers) == {urgent["id"], older["id"]}
    assert unfit["id"] not in offers


async def test_the_first_acceptance_books_the_slot_and_the_second_is_refused(clinic: Clinic) -> None:
    first, second = await waitlisted(clinic), await waitlisted(clinic)
    slot = await cancel_a_cardiology_slot(clinic)
    async with clinic.engine.begin() as conn:
        booked = await accept_offer(
            open_store(conn, policy=TESTS), slot_id=slot["id"], entry_id=first["id"], now=current_time(clinic.settings)
        )
    assert booked["status"] == "booked" and booked["start"] == slot["start"]
    with pytest.raises(Conflict):
        async with clinic.engine.begin() as conn:
            await accept_offer(
                open_store(conn, policy=TESTS),
                slot_id=slot["id"],
                entry_id=second["id"],
                now=current_time(clinic.settings),
            )
    told = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{second['id']}"})
    assert any(timer_key(r).startswith("waitlist-gone:") for r in told)
    async with clinic.engine.connect() as conn:
        assert await recovered_slots(open_store(conn, policy=TESTS)) == 1
