"""Every column of the Vitória CSV lands in the FHIR resource an EHR would hold, and the features read it there."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhircrm.noshow.dataset import build_dataset
from fhircrm.noshow.ehr_facts import ACT_CODE, SNOMED, Facts, condition_values, district, welfare_coverage
from fhircrm.noshow.features import FEATURES, appointment_features
from fhircrm.noshow.history import History
from fhircrm.noshow.vitoria import COLUMNS, Clinic, to_fhir

ROW = {
    "PatientId": "29872499824296",
    "AppointmentID": "5642903",
    "Gender": "F",
    "ScheduledDay": "2016-04-25T18:38:08Z",
    "AppointmentDay": "2016-04-29T00:00:00Z",
    "Age": "62",
    "Neighbourhood": "JARDIM DA PENHA",
    "Scholarship": "1",
    "Hipertension": "1",
    "Diabetes": "1",
    "Alcoholism": "1",
    "Handcap": "2",
    "SMS_received": "1",
    "No-show": "Yes",
}


def codes(mapped_conditions: list[dict]) -> set[str]:
    return {c["code"] for cond in mapped_conditions for c in cond["code"]["coding"] if c["system"] == SNOMED}


def test_every_column_of_a_row_lands_in_a_fhir_resource() -> None:
    mapped = to_fhir(ROW)
    patient, appointment = mapped.patient, mapped.appointment
    assert patient["id"] == "p29872499824296"  # PatientId
    assert appointment["id"] == "a5642903"  # AppointmentID
    assert patient["gender"] == "female"  # Gender
    assert appointment["created"] == "2016-04-25T18:38:08Z"  # ScheduledDay
    assert appointment["start"] == "2016-04-29T11:00:00Z"  # AppointmentDay, 08:00 local
    assert patient["birthDate"] == "1954"  # Age
    assert patient["address"][0]["district"] == "JARDIM DA PENHA"  # Neighbourhood
    assert appointment["status"] == "noshow"  # No-show
    (coverage,) = mapped.coverages  # Scholarship
    assert coverage["type"]["coding"][0] == {
        "system": ACT_CODE,
        "code": "SUBSIDIZ",
        "display": "subsidized health program",
    }
    assert coverage["beneficiary"] == {"reference": "Patient/p29872499824296"}
    # Hipertension, Diabetes, Alcoholism, Handcap (with its count)
    assert codes(mapped.conditions) == {"38341003", "73211009", "7200002", "21134002"}
    assert all(c["subject"] == {"reference": "Patient/p29872499824296"} for c in mapped.conditions)
    disability = next(c for c in mapped.conditions if c["code"]["coding"][0]["code"] == "21134002")
    assert disability["extension"][0]["valueInteger"] == 2
    (sms,) = mapped.communications  # SMS_received
    assert sms["basedOn"] == [{"reference": "Appointment/a5642903"}] and sms["status"] == "completed"
    assert sms["sent"] == "2016-04-26T11:00:00Z"  # three days before the visit


@pytest.mark.parametrize("column", [c for c in COLUMNS if c not in ("PatientId", "AppointmentID")])
def test_changing_any_other_column_changes_the_features(column: str) -> None:
    """No column is dropped on the way: each one moves at least one feature (identifiers only link rows)."""
    other = {
        "Gender": "M",
        "ScheduledDay": "2016-04-12T09:00:00Z",
        "AppointmentDay": "2016-05-02T00:00:00Z",
        "Age": "20",
        "Neighbourhood": "CENTRO",
        "Scholarship": "0",
        "Hipertension": "0",
        "Diabetes": "0",
        "Alcoholism": "0",
        "Handcap": "0",
        "SMS_received": "0",
        "No-show": "No",
    }

    def features(row: dict) -> tuple[list[float], list[float]]:
        clinic = Clinic()
        # Earlier visits from both districts so that the district rate has something to tell apart.
        for i, (place, missed) in enumerate([("JARDIM DA PENHA", "Yes"), ("CENTRO", "No")] * 20):
            clinic.add(
                to_fhir(
                    {**ROW, **other, "PatientId": str(i), "AppointmentID": str(100 + i), "Neighbourhood": place}
                    | {
                        "AppointmentDay": "2016-04-20T00:00:00Z",
                        "ScheduledDay": "2016-04-10T09:00:00Z",
                        "No-show": missed,
                    }
                )
            )
        clinic.add(to_fhir(row))
        data = build_dataset(
            clinic.appointments,
            clinic.patients,
            now=datetime(2016, 6, 1, tzinfo=UTC),
            predict_at=lambda a: datetime(2016, 4, 28, 23, 59, tzinfo=UTC) if a["id"] == "a5642903" else None,
            conditions=clinic.conditions,
            coverages=clinic.coverages,
            communications=clinic.communications,
        )
        index = data.ids.index("a5642903")
        return data.matrix[index].tolist(), [data.labels[index]]

    before, after = features(ROW), features({**ROW, column: other[column]})
    assert before != after


def test_conditions_and_coverage_count_only_once_on_record() -> None:
    mapped = to_fhir(ROW)
    recorded = [{**c, "recordedDate": "2016-05-01T00:00:00Z"} for c in mapped.conditions]
    early, late = datetime(2016, 4, 25, tzinfo=UTC), datetime(2016, 5, 2, tzinfo=UTC)
    assert set(condition_values(recorded, early).values()) == {0.0}
    assert condition_values(recorded, late) == {
        "condition_hypertension": 1.0,
        "condition_diabetes": 1.0,
        "condition_alcoholism": 1.0,
        "disability": 2.0,
    }
    resolved = [{**c, "clinicalStatus": {"coding": [{"code": "resolved"}]}} for c in mapped.conditions]
    assert set(condition_values(resolved, late).values()) == {0.0}
    started = [{**mapped.coverages[0], "period": {"start": "2016-05-01"}}]
    assert welfare_coverage(started, early) == 0.0 and welfare_coverage(started, late) == 1.0
    assert district(mapped.patient) == "JARDIM DA PENHA"


def test_a_reminder_counts_the_day_before_the_visit_but_not_at_booking() -> None:
    mapped = to_fhir(ROW)
    facts = Facts(communications=tuple(mapped.communications))
    now = datetime(2016, 6, 1, tzinfo=UTC)

    def reminders(at: datetime | None) -> float:
        values = appointment_features(mapped.appointment, patient=None, history=History(), now=now, at=at, facts=facts)
        return values["reminders"]

    assert reminders(None) == 0.0
    assert reminders(datetime(2016, 4, 28, 23, 59, tzinfo=UTC)) == 1.0
    assert "reminders" in FEATURES
