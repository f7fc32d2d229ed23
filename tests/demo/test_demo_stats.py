"""noshow_stats on hand-written Appointment JSON: bands, history ordering, robustness."""

from __future__ import annotations

from typing import Any

import pytest

from fhircrm.demo.stats import (
    LEAD_TIME_BANDS,
    lead_time_band,
    lead_time_days,
    noshow_stats,
    parse_fhir_datetime,
    patient_reference,
)


def appt(
    status: str, start: str | None, created: str | None = None, patient: str | None = "Patient/p1"
) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Appointment", "status": status, "participant": []}
    if start:
        out["start"] = start
    if created:
        out["created"] = created
    if patient:
        out["participant"].append({"actor": {"reference": patient}, "status": "accepted"})
    out["participant"].append({"actor": {"reference": "Practitioner/d1"}, "status": "accepted"})
    return out


def test_overall_rate_counts_only_fulfilled_and_noshow() -> None:
    stats = noshow_stats(
        [
            appt("fulfilled", "2025-01-10T09:00:00-05:00"),
            appt("noshow", "2025-01-11T09:00:00-05:00"),
            appt("fulfilled", "2025-01-12T09:00:00-05:00"),
            appt("fulfilled", "2025-01-13T09:00:00-05:00"),
            appt("cancelled", "2025-01-14T09:00:00-05:00"),
            appt("booked", "2025-02-14T09:00:00-05:00"),
            appt("entered-in-error", None),
        ]
    )
    assert (stats.overall.noshow, stats.overall.fulfilled, stats.overall.rate) == (1, 3, 0.25)


def test_empty_input_has_no_rates() -> None:
    stats = noshow_stats([])
    assert stats.overall.rate is None
    assert set(stats.by_lead_time) == set(LEAD_TIME_BANDS)
    assert all(cell.rate is None and cell.total == 0 for cell in stats.by_lead_time.values())
    assert stats.as_dict()["overall"] == {"noshow": 0, "fulfilled": 0, "rate": None}


@pytest.mark.parametrize(
    ("created", "start", "days", "band"),
    [
        ("2025-01-10T09:00:00-05:00", "2025-01-10T09:30:00-05:00", 0, "0-2"),
        ("2025-01-07T10:00:00-05:00", "2025-01-10T09:00:00-05:00", 2, "0-2"),  # 2 days 23 h
        ("2025-01-07T09:00:00-05:00", "2025-01-10T09:00:00-05:00", 3, "3-14"),
        ("2024-12-27T09:00:00-05:00", "2025-01-10T09:00:00-05:00", 14, "3-14"),
        ("2024-12-26T09:00:00-05:00", "2025-01-10T09:00:00-05:00", 15, ">14"),
        ("2025-01-10T12:00:00Z", "2025-01-10T09:00:00-05:00", 0, "0-2"),  # recorded after start
        ("2024-12", "2025-01-10T09:00:00Z", 40, ">14"),  # partial date
        ("2025-01-08", "2025-01-10T09:00:00Z", 2, "0-2"),  # date only = midnight UTC
    ],
)
def test_lead_time_band(created: str, start: str, days: int, band: str) -> None:
    assert lead_time_days(created, start) == days
    assert lead_time_band(days) == band


def test_lead_time_breakdown_skips_appointments_without_created() -> None:
    stats = noshow_stats(
        [
            appt("noshow", "2025-02-20T09:00:00-05:00", "2025-01-02T09:00:00-05:00"),
            appt("fulfilled", "2025-02-21T09:00:00-05:00", "2025-02-20T09:00:00-05:00"),
            appt("fulfilled", "2025-02-22T09:00:00-05:00"),
        ]
    )
    assert stats.overall.total == 3
    assert stats.by_lead_time[">14"].as_dict() == {"noshow": 1, "fulfilled": 0, "rate": 1.0}
    assert stats.by_lead_time["0-2"].as_dict() == {"noshow": 0, "fulfilled": 1, "rate": 0.0}
    assert stats.by_lead_time["3-14"].total == 0


def test_prior_noshow_counts_only_earlier_appointments_of_the_same_patient() -> None:
    stats = noshow_stats(
        [  # deliberately unsorted, mixed patients and offsets
            appt("fulfilled", "2025-03-01T09:00:00-05:00", patient="Patient/p1"),
            appt("noshow", "2025-02-01T09:00:00-05:00", patient="Patient/p1"),
            appt("fulfilled", "2025-01-01T09:00:00-05:00", patient="Patient/p1"),
            appt("fulfilled", "2025-02-15T14:00:00Z", patient="Patient/p2"),  # p1's no-show is irrelevant
            appt("noshow", "2025-02-10T09:00:00-05:00", patient="Patient/p3"),
            appt("cancelled", "2025-02-11T09:00:00-05:00", patient="Patient/p3"),
            appt("noshow", "2025-02-12T09:00:00-05:00", patient="Patient/p3"),
        ]
    )
    # p1: Jan fulfilled (none), Feb noshow (none), Mar fulfilled (>=1)
    # p2: fulfilled (none); p3: first noshow (none), second noshow (>=1)
    assert stats.by_prior_noshow["none"].as_dict() == {"noshow": 2, "fulfilled": 2, "rate": 0.5}
    assert stats.by_prior_noshow[">=1"].as_dict() == {"noshow": 1, "fulfilled": 1, "rate": 0.5}


def test_simultaneous_appointments_are_not_each_others_history() -> None:
    same = "2025-02-01T09:00:00-05:00"
    stats = noshow_stats([appt("noshow", same), appt("fulfilled", "2025-02-01T14:00:00Z")])
    assert stats.by_prior_noshow["none"].total == 2  # same instant, different offsets


def test_history_uses_patient_references_in_any_form() -> None:
    stats = noshow_stats(
        [
            appt("noshow", "2025-01-01T09:00:00Z", patient="https://ehr.example.org/fhir/Patient/42"),
            appt("fulfilled", "2025-01-02T09:00:00Z", patient="Patient/42/_history/3"),
            appt("fulfilled", "2025-01-03T09:00:00Z", patient=None),
        ]
    )
    assert stats.by_prior_noshow[">=1"].total == 1
    assert stats.by_prior_noshow["none"].total == 1  # the patient-less one is left out
    assert stats.overall.total == 3


def test_helpers() -> None:
    assert patient_reference(appt("booked", None, patient="Patient/x")) == "Patient/x"
    assert patient_reference(appt("booked", None, patient=None)) is None
    assert parse_fhir_datetime("2025").isoformat() == "2025-01-01T00:00:00+00:00"
    assert parse_fhir_datetime("2025-03-10T07:00:00.123-04:00").utcoffset().total_seconds() == -4 * 3600  # type: ignore[union-attr]
