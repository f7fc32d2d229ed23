"""The public Vitória 2016 appointments (Kaggle "Medical Appointment No Shows") as the FHIR an EHR would hold.

Every CSV column lands in a FHIR resource the no-show features read, never in a side channel:

- PatientId -> Patient.id; Gender -> Patient.gender; Age -> Patient.birthDate (year of the visit minus age);
  Neighbourhood -> Patient.address.district;
- AppointmentID -> Appointment.id; ScheduledDay -> Appointment.created; AppointmentDay -> Appointment.start
  (08:00 local, 11:00 UTC: the data has no time of day); No-show -> Appointment.status noshow / fulfilled;
- Hipertension, Diabetes, Alcoholism -> an active Condition each (SNOMED CT 38341003, 73211009, 7200002);
  Handcap (a count, 0-4) -> one active Condition "Disability" (SNOMED CT 21134002) with the count in an extension;
- Scholarship (Bolsa Família, a welfare program) -> an active Coverage of type v3 ActCode SUBSIDIZ;
- SMS_received -> a completed sms Communication based on the Appointment, sent three days before the visit (the
  data has no send time; Vitória sent reminders only for bookings made at least three days ahead), never before
  the booking, so a reminder counts the day before the visit but not at booking.

For evaluation only: the data is never copied into the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fhircrm.clock import fhir_datetime, parse_fhir_datetime
from fhircrm.noshow.ehr_facts import ACT_CODE, CONDITION_CLINICAL, DISABILITY_COUNT_EXTENSION, SNOMED

PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
CONDITION_COLUMNS = {
    "Hipertension": ("38341003", "Hypertensive disorder"),
    "Diabetes": ("73211009", "Diabetes mellitus"),
    "Alcoholism": ("7200002", "Alcoholism"),
    "Handcap": ("21134002", "Disability"),
}
COLUMNS = (
    "PatientId",
    "AppointmentID",
    "Gender",
    "ScheduledDay",
    "AppointmentDay",
    "Age",
    "Neighbourhood",
    "Scholarship",
    "Hipertension",
    "Diabetes",
    "Alcoholism",
    "Handcap",
    "SMS_received",
    "No-show",
)


@dataclass(slots=True)
class Mapped:
    """One CSV row's resources."""

    patient: dict
    appointment: dict
    conditions: list[dict] = field(default_factory=list)
    coverages: list[dict] = field(default_factory=list)
    communications: list[dict] = field(default_factory=list)


def _condition(patient_id: str, column: str, count: int) -> dict:
    code, display = CONDITION_COLUMNS[column]
    condition = {
        "resourceType": "Condition",
        "id": f"{patient_id}-{code}",
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if column == "Handcap":
        condition["extension"] = [{"url": DISABILITY_COUNT_EXTENSION, "valueInteger": count}]
    return condition


def to_fhir(row: dict) -> Mapped:
    """A CSV row as the Patient, Appointment, Conditions, Coverage and Communication an EHR would hold."""
    patient_id = f"p{row['PatientId'].split('.')[0]}"
    appointment_id = f"a{row['AppointmentID']}"
    day = row["AppointmentDay"][:10]
    age = max(int(row["Age"]), 0)
    patient = {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": {"F": "female", "M": "male"}.get(row["Gender"], "unknown"),
        "birthDate": str(int(day[:4]) - age),
    }
    if row["Neighbourhood"].strip():
        patient["address"] = [{"use": "home", "city": "Vitória", "district": row["Neighbourhood"].strip()}]
    start = f"{day}T11:00:00Z"
    appointment = {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": "noshow" if row["No-show"] == "Yes" else "fulfilled",
        "created": row["ScheduledDay"],
        "start": start,
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "needs-action"}],
    }
    mapped = Mapped(patient, appointment)
    for column in CONDITION_COLUMNS:
        count = int(row[column])
        if count > 0:
            mapped.conditions.append(_condition(patient_id, column, count))
    if int(row["Scholarship"]):
        mapped.coverages.append(
            {
                "resourceType": "Coverage",
                "id": f"{patient_id}-bolsa-familia",
                "status": "active",
                "type": {
                    "coding": [{"system": ACT_CODE, "code": "SUBSIDIZ", "display": "subsidized health program"}],
                    "text": "Bolsa Família (welfare program)",
                },
                "beneficiary": {"reference": f"Patient/{patient_id}"},
                "payor": [{"display": "Programa Bolsa Família"}],
            }
        )
    if int(row["SMS_received"]):
        booked = parse_fhir_datetime(row["ScheduledDay"])
        sent = max(parse_fhir_datetime(start) - timedelta(days=3), booked + timedelta(minutes=1))
        mapped.communications.append(
            {
                "resourceType": "Communication",
                "id": f"{appointment_id}-sms",
                "status": "completed",
                "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": "SMSWRIT"}]}],
                "basedOn": [{"reference": f"Appointment/{appointment_id}"}],
                "subject": {"reference": f"Patient/{patient_id}"},
                "sent": fhir_datetime(sent),
            }
        )
    return mapped


@dataclass(slots=True)
class Clinic:
    """All rows mapped, indexed the way build_dataset takes them."""

    patients: dict[str, dict] = field(default_factory=dict)
    appointments: list[dict] = field(default_factory=list)
    conditions: dict[str, list[dict]] = field(default_factory=dict)
    coverages: dict[str, list[dict]] = field(default_factory=dict)
    communications: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, mapped: Mapped) -> None:
        ref = f"Patient/{mapped.patient['id']}"
        self.patients[ref] = mapped.patient
        self.appointments.append(mapped.appointment)
        # A patient's conditions and coverage are the same on every row: keep one of each.
        for condition in mapped.conditions:
            theirs = self.conditions.setdefault(ref, [])
            if all(c["id"] != condition["id"] for c in theirs):
                theirs.append(condition)
        for coverage in mapped.coverages:
            self.coverages.setdefault(ref, [coverage])
        if mapped.communications:
            self.communications[f"Appointment/{mapped.appointment['id']}"] = mapped.communications


def visit_day(appointment: dict) -> datetime:
    return parse_fhir_datetime(appointment["start"]).replace(hour=0, minute=0, second=0)
