"""Service recovery: a low score or a worrying comment opens a Task for a coordinator within minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import yaml

from fhircrm.clock import fhir_datetime
from fhircrm.config import Settings
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys.codes import RATING_ITEMS, RECOVERY_SYSTEM, TASK_TYPE_SYSTEM

CRM_ROLE_SYSTEM = "http://fhircrm.org/CodeSystem/crm-role"


@cache
def keywords() -> dict[str, tuple[str, ...]]:
    data = yaml.safe_load((Path(__file__).parent / "keywords.yaml").read_text())
    return {lang: tuple(w.lower() for w in words) for lang, words in data.items()}


def score_of(response: dict) -> tuple[str, int] | None:
    for item in response.get("item", []):
        if item.get("linkId") in RATING_ITEMS:
            for answer in item.get("answer", []):
                if isinstance(answer.get("valueInteger"), int):
                    return item["linkId"], answer["valueInteger"]
    return None


def worrying(response: dict) -> bool:
    """Does a free-text answer contain a keyword of any language we know? (answers may not be in the
    patient's recorded language, so every list is checked)."""
    texts = [a.get("valueString", "").lower() for i in response.get("item", []) for a in i.get("answer", [])]
    words = {w for ws in keywords().values() for w in ws}
    return any(w in text for text in texts if text for w in words)


def needs_recovery(response: dict, settings: Settings) -> str | None:
    """Why this response needs a call ("low-score", "worrying-comment"), or None."""
    if worrying(response):
        return "worrying-comment"
    score = score_of(response)
    if score:
        limit = settings.surveys_low_nps if score[0] == "nps" else settings.surveys_low_csat
        if score[1] <= limit:
            return "low-score"
    return None


async def open_recovery_task(store: FhirStore, response: dict, reason: str, now: datetime) -> dict:
    urgent = reason == "worrying-comment"
    key = f"QuestionnaireResponse/{response['id']}"
    task: dict = {
        "resourceType": "Task",
        "identifier": [{"system": RECOVERY_SYSTEM, "value": key}],
        "status": "requested",
        "intent": "order",
        "priority": "urgent" if urgent else "asap",
        "code": {"coding": [{"system": TASK_TYPE_SYSTEM, "code": "service-recovery", "display": "Service recovery"}]},
        "description": "Worrying survey comment - call the patient"
        if urgent
        else "Low survey score - call the patient",
        "focus": {"reference": key},
        "authoredOn": fhir_datetime(now),
        "restriction": {"period": {"end": fhir_datetime(now + timedelta(hours=4 if urgent else 24))}},
        "performerType": [{"coding": [{"system": CRM_ROLE_SYSTEM, "code": "coordinator"}]}],
        "reasonCode": {"text": reason},
    }
    if subject := (response.get("subject") or {}).get("reference"):
        task["for"] = {"reference": subject}
    outcome = await store.create(task, if_none_exist=urlencode({"identifier": f"{RECOVERY_SYSTEM}|{key}"}))
    return outcome.content or task
