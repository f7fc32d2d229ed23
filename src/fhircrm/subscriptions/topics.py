"""The SubscriptionTopics fhircrm publishes (backport IG), defined by the same rules as the domain events.

A topic fires on a resource change when ``derive`` finds its event in it (one definition of "booked", whoever
wrote the Appointment), plus the CRM topics downstream systems ask for: message received, task created,
survey answered low (a completed QuestionnaireResponse with an integer or decimal answer at or below
``LOW_SCORE``, the NPS detractor line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhircrm.events.derive import derive
from fhircrm.events.model import EventName

TOPIC_BASE = "https://fhircrm.dev/SubscriptionTopic"
LOW_SCORE = 6

Trigger = Callable[[dict | None, dict], bool]


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    title: str
    resource_type: str
    fires: Trigger
    can_filter_by: tuple[str, ...] = ("patient",)

    @property
    def url(self) -> str:
        return f"{TOPIC_BASE}/{self.name}"


def _on(event: EventName) -> Trigger:
    return lambda previous, current: any(e.name == event for e in derive(previous, current))


def _answers(items: list[dict]) -> list[dict]:
    out = []
    for item in items:
        for answer in item.get("answer", []):
            out.append(answer)
            out += _answers(answer.get("item", []))
        out += _answers(item.get("item", []))
    return out


def is_low_score(response: dict) -> bool:
    scores = [a.get("valueInteger", a.get("valueDecimal")) for a in _answers(response.get("item", []))]
    return any(isinstance(s, int | float) and s <= LOW_SCORE for s in scores)


def _survey_low(previous: dict | None, current: dict) -> bool:
    return _on(EventName.SURVEY_ANSWERED)(previous, current) and is_low_score(current)


def _patient_changed(_previous: dict | None, _current: dict) -> bool:
    return True


TOPICS: tuple[Topic, ...] = (
    Topic(
        "appointment-booked",
        "Appointment booked",
        "Appointment",
        _on(EventName.APPOINTMENT_BOOKED),
        ("patient", "actor"),
    ),
    Topic(
        "appointment-cancelled",
        "Appointment cancelled",
        "Appointment",
        _on(EventName.APPOINTMENT_CANCELLED),
        ("patient", "actor"),
    ),
    Topic(
        "appointment-noshow",
        "Appointment no-show",
        "Appointment",
        _on(EventName.APPOINTMENT_NO_SHOW),
        ("patient", "actor"),
    ),
    Topic(
        "appointment-fulfilled",
        "Appointment fulfilled",
        "Appointment",
        _on(EventName.VISIT_COMPLETED),
        ("patient", "actor"),
    ),
    Topic("encounter-finished", "Encounter finished", "Encounter", _on(EventName.VISIT_COMPLETED), ("patient",)),
    Topic("referral-created", "Referral created", "ServiceRequest", _on(EventName.REFERRAL_CREATED), ("patient",)),
    Topic("result-final", "Result final", "DiagnosticReport", _on(EventName.RESULT_FINAL), ("patient",)),
    Topic("patient-updated", "Patient created or updated", "Patient", _patient_changed, ("_id", "identifier")),
    Topic(
        "message-received", "Message received", "Communication", _on(EventName.MESSAGE_RECEIVED), ("patient", "sender")
    ),
    Topic("task-created", "Task created", "Task", _on(EventName.TASK_CREATED), ("patient", "code", "owner")),
    Topic(
        "survey-answered-low",
        "Survey answered with a low score",
        "QuestionnaireResponse",
        _survey_low,
        ("patient", "questionnaire"),
    ),
)
BY_URL = {t.url: t for t in TOPICS}
