"""The domain event rules SubscriptionTopics may name, so a topic and the journeys share one definition.

The topics themselves are data (``shipped_topics/`` and whatever administrators POST, read by
``topic_library``). A trigger naming a rule fires when ``derive`` finds that event in the change (one
definition of "booked", whoever wrote the Appointment), or, for ``SurveyAnsweredLow``, a completed
QuestionnaireResponse with an integer or decimal answer at or below ``LOW_SCORE`` (the NPS detractor line).
"""

from __future__ import annotations

from collections.abc import Callable

from fhircrm.events.derive import derive
from fhircrm.events.model import EventName

TOPIC_BASE = "https://fhircrm.dev/SubscriptionTopic"
LOW_SCORE = 6

Trigger = Callable[[dict | None, dict], bool]


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


#: The domain event rules a topic's resourceTrigger may name (``topic_definitions.DOMAIN_EVENT``): every
#: domain event by its name, plus the CRM's own "survey answered low".
DOMAIN_RULES: dict[str, Trigger] = {e.value: _on(e) for e in EventName} | {"SurveyAnsweredLow": _survey_low}
