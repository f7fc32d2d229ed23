"""The coming sessions' expected no-shows: the sum of their bookings' risks, with an interval, per practitioner
(else location) and day; bookings not assessed yet are scored without writing."""

from __future__ import annotations

from datetime import UTC

import pytest
from tests.fixtures.journeys import Clinic, at
from tests.fixtures.stores import TESTS

from fhircrm.noshow.attendance import upcoming
from fhircrm.stores import open_store


async def test_sessions_sum_their_bookings_risks_with_an_interval(clinic: Clinic) -> None:
    dr_a = {"actor": {"reference": "Practitioner/dr-a", "display": "Dr A"}, "status": "accepted"}
    room = {"actor": {"reference": "Location/room-2", "display": "Room 2"}, "status": "accepted"}
    in_room = []
    for i in range(8):
        patient = await clinic.patient()
        host = dr_a if i < 5 else room
        appointment = await clinic.appointment(patient, start=at(3, 9 + i), created=at(1, 8))
        await clinic.change(appointment, participant=[*appointment["participant"], host])
        if host is room:
            in_room.append(f"Appointment/{appointment['id']}")
    await clinic.process_events()  # RiskAssessments for the bookings seen so far
    late = await clinic.appointment(await clinic.patient(), start=at(3, 17), created=at(2, 8))
    await clinic.change(late, participant=[*late["participant"], dr_a])  # not assessed yet
    async with clinic.engine.connect() as conn:
        sessions = await upcoming(
            open_store(conn, clinic.settings, policy=TESTS), settings=clinic.settings, now=at(2, 12), zone=UTC
        )
    assert [(s.name, s.day.isoformat(), s.outlook.bookings) for s in sessions] == [
        ("Dr A", "2031-06-03", 6),
        ("Room 2", "2031-06-03", 3),
    ]
    risks = {
        r["basis"][0]["reference"]: r["prediction"][0]["probabilityDecimal"]
        for r in await clinic.search("RiskAssessment")
    }
    assert f"Appointment/{late['id']}" not in risks  # scored for the page, never written by it
    room_session = sessions[1].outlook
    assert room_session.expected_noshows == pytest.approx(sum(risks[ref] for ref in in_room))
    assert 0 <= room_session.low <= room_session.expected_noshows <= room_session.high <= 3
    assert sessions[0].outlook.expected_noshows > 0 and sessions[0].outlook.extra_bookings == sessions[0].outlook.low
