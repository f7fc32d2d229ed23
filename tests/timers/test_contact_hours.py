"""Planned contact times stay in the patient's day."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fhircrm.timers.hours import patient_zone, within_contact_hours

NY = ZoneInfo("America/New_York")


def test_a_time_in_the_day_is_kept() -> None:
    noon = datetime(2031, 6, 10, 16, tzinfo=UTC)  # 12:00 in New York
    assert within_contact_hours(noon, NY, start_hour=9, end_hour=20) == noon


def test_a_night_time_moves_to_the_next_morning() -> None:
    night = datetime(2031, 6, 10, 6, tzinfo=UTC)  # 02:00 in New York
    assert within_contact_hours(night, NY, start_hour=9, end_hour=20) == datetime(2031, 6, 10, 9, tzinfo=NY)


def test_a_night_time_moves_back_to_the_evening_when_morning_is_after_the_appointment() -> None:
    night = datetime(2031, 6, 10, 6, tzinfo=UTC)
    visit = datetime(2031, 6, 10, 8, 30, tzinfo=NY)
    moved = within_contact_hours(night, NY, start_hour=9, end_hour=20, not_after=visit)
    assert moved == datetime(2031, 6, 9, 19, tzinfo=NY)


def test_the_patient_time_zone_extension_wins_over_the_clinic_default() -> None:
    patient = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": "Europe/Lisbon"}]}
    assert patient_zone(patient, "America/New_York") == ZoneInfo("Europe/Lisbon")
    assert patient_zone({}, "America/New_York") == NY
