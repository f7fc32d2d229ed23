"""``POST /api/waitlist/offers/{id}/accept``: a coordinator books an offered slot; the second acceptance of the
same slot is refused with 409 and changes nothing; an id that is not an offer is 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from fhircrm.clock import fhir_datetime
from fhircrm.timers.resources import TimerPlan

API = "http://testserver/api/waitlist/offers"
START = fhir_datetime(datetime.now(UTC) + timedelta(days=5))
END = fhir_datetime(datetime.now(UTC) + timedelta(days=5, minutes=20))


async def create(client: httpx.AsyncClient, body: dict) -> dict:
    response = await client.post(body["resourceType"], json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def offer_to_two(client: httpx.AsyncClient) -> tuple[dict, list[dict], list[dict]]:
    """A cancelled slot, two waitlist entries, and an open offer of the slot to each."""
    patient = await create(client, {"resourceType": "Patient"})
    slot = await create(
        client,
        {
            "resourceType": "Appointment",
            "status": "cancelled",
            "start": START,
            "end": END,  # R4 app-2: start and end together
            "slot": [{"reference": "Slot/cardio-0900"}],
            "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "declined"}],
        },
    )
    entries, offers = [], []
    for _ in range(2):
        waiting = await create(client, {"resourceType": "Patient"})
        entry = await create(
            client,
            {
                "resourceType": "Appointment",
                "status": "waitlist",
                "participant": [{"actor": {"reference": f"Patient/{waiting['id']}"}, "status": "needs-action"}],
            },
        )
        hold = fhir_datetime(datetime.now(UTC) + timedelta(hours=2))
        plan = TimerPlan(
            key=f"waitlist-offer:{slot['id']}:{entry['id']}",
            due=datetime.now(UTC),
            patient=f"Patient/{waiting['id']}",
            based_on=[f"Appointment/{slot['id']}", f"Appointment/{entry['id']}"],
            data={"entry": entry["id"], "slot_start": START, "hold_expires": hold},
        )
        entries.append(entry)
        offers.append(await create(client, plan.to_resource(authored=datetime.now(UTC))))
    return slot, entries, offers


async def test_a_coordinator_accepts_an_offer_and_the_entry_is_booked_into_the_slot(client: httpx.AsyncClient) -> None:
    slot, entries, offers = await offer_to_two(client)
    response = await client.post(f"{API}/{offers[0]['id']}/accept")
    assert response.status_code == 200, response.text
    booked = (await client.get(f"Appointment/{entries[0]['id']}")).json()
    assert (booked["status"], booked["start"]) == ("booked", slot["start"])
    assert booked["slot"] == [{"reference": "Slot/cardio-0900"}]  # the freed Slot is live again: a recovered slot


async def test_a_second_acceptance_of_the_same_slot_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    _slot, entries, offers = await offer_to_two(client)
    assert (await client.post(f"{API}/{offers[0]['id']}/accept")).status_code == 200
    before = (await client.get(f"Appointment/{entries[1]['id']}")).json()
    refused = await client.post(f"{API}/{offers[1]['id']}/accept")
    assert refused.status_code == 409
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert (await client.get(f"Appointment/{entries[1]['id']}")).json() == before


async def test_accepting_something_that_is_not_an_offer_is_404(client: httpx.AsyncClient) -> None:
    plan = TimerPlan(key="appointment:remind:Appointment/x:1", due=datetime.now(UTC), patient=None)
    reminder = await create(client, plan.to_resource(authored=datetime.now(UTC)))
    response = await client.post(f"{API}/{reminder['id']}/accept")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert (await client.post(f"{API}/nope/accept")).status_code == 404
