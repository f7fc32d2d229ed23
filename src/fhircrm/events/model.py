"""The event record and the names fhircrm knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventName(StrEnum):
    APPOINTMENT_BOOKED = "AppointmentBooked"
    APPOINTMENT_CONFIRMED = "AppointmentConfirmed"  # the patient participant accepted (a "C" reply)
    APPOINTMENT_RESCHEDULED = "AppointmentRescheduled"
    APPOINTMENT_CANCELLED = "AppointmentCancelled"
    APPOINTMENT_NO_SHOW = "AppointmentNoShow"
    APPOINTMENT_ARRIVED = "AppointmentArrived"
    APPOINTMENT_WAITLISTED = "AppointmentWaitlisted"
    VISIT_COMPLETED = "VisitCompleted"  # Appointment fulfilled or Encounter finished
    REFERRAL_CREATED = "ReferralCreated"
    RESULT_FINAL = "ResultFinal"
    PATIENT_UPDATED = "PatientUpdated"
    MESSAGE_RECEIVED = "MessageReceived"
    SURVEY_ANSWERED = "SurveyAnswered"
    TASK_CREATED = "TaskCreated"
    CONSENT_CHANGED = "ConsentChanged"


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """``subject`` is the resource the event is about ("Appointment/123"), ``version`` its versionId, so the
    pair identifies the event: the same change seen twice (a retried notification) is one event."""

    name: EventName
    subject: str
    version: str
    patient: str | None = None  # "Patient/abc" when the event concerns one patient
    occurred_at: str | None = None  # FHIR instant
    data: dict = field(default_factory=dict)  # small facts (status before/after, start time); never free text

    @property
    def key(self) -> str:
        return f"{self.name}:{self.subject}:{self.version}"

    @property
    def visit(self) -> str | None:
        """The Appointment a VisitCompleted is about, whichever record said so (the Appointment fulfilled, or an
        Encounter of it finished: an EHR usually does both, two events of one visit); None otherwise."""
        if self.name is not EventName.VISIT_COMPLETED:
            return None
        visit = self.data.get("appointment") or self.subject
        return visit if isinstance(visit, str) and visit.startswith("Appointment/") else None

    def to_json(self) -> dict:
        """A plain dict (``data`` is already JSON: no deep copy as ``dataclasses.asdict`` would make)."""
        return {
            "name": self.name,
            "subject": self.subject,
            "version": self.version,
            "patient": self.patient,
            "occurred_at": self.occurred_at,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, data: dict) -> DomainEvent:
        return cls(**{**data, "name": EventName(data["name"])})
