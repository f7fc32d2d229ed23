"""Store an answer as a QuestionnaireResponse tagged with its touchpoint (one answer per invitation)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fhircrm.clock import fhir_datetime
from fhircrm.errors import Conflict, Unprocessable
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys.codes import CHANNEL_URL, TOKEN_SYSTEM, TOUCHPOINT_SYSTEM


def _answer(item: dict, value: object) -> list[dict]:
    kind = item.get("type")
    if value in (None, ""):
        return []
    if kind == "integer":
        try:
            number = int(str(value).strip())
        except ValueError as exc:
            raise Unprocessable(f"{item['linkId']} must be a whole number") from exc
        bounds = {e["url"].rsplit("/", 1)[-1]: e.get("valueInteger") for e in item.get("extension", [])}
        if not bounds.get("minValue", number) <= number <= bounds.get("maxValue", number):
            raise Unprocessable(f"{item['linkId']} is out of range")
        return [{"valueInteger": number}]
    if kind == "choice":
        for option in item.get("answerOption", []):
            if (option.get("valueCoding") or {}).get("code") == value:
                return [{"valueCoding": option["valueCoding"]}]
        raise Unprocessable(f"{item['linkId']} is not one of the options")
    if kind == "boolean":
        return [{"valueBoolean": str(value).lower() in ("true", "yes", "1")}]
    return [{"valueString": str(value)[:2000]}]


async def record_response(
    store: FhirStore,
    *,
    questionnaire: dict,
    patient: str,
    touchpoint: str,
    answers: dict[str, object],
    invitation: str,
    now: datetime,
    about: tuple[str, ...] | list[str] = (),
    channel: str = "web",
) -> dict:
    """Write the completed response; Conflict when this invitation was already answered, Unprocessable when a
    required item is missing or an answer is invalid (nothing is written)."""
    items = []
    for item in questionnaire.get("item", []):
        answer = _answer(item, answers.get(item["linkId"]))
        if item.get("required") and not answer:
            raise Unprocessable(f"{item['linkId']} is required")
        if answer:
            items.append({"linkId": item["linkId"], "text": item.get("text"), "answer": answer})
    response: dict = {
        "resourceType": "QuestionnaireResponse",
        "meta": {"tag": [{"system": TOUCHPOINT_SYSTEM, "code": touchpoint}]},
        "identifier": {"system": TOKEN_SYSTEM, "value": invitation},
        "questionnaire": questionnaire["url"],
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
        "author": {"reference": f"Patient/{patient}"},
        "source": {"reference": f"Patient/{patient}"},
        "authored": fhir_datetime(now),
        "extension": [{"url": CHANNEL_URL, "valueCode": channel}],
        "item": items,
    }
    if encounter := next((ref for ref in about if ref.startswith("Encounter/")), None):
        response["encounter"] = {"reference": encounter}
    outcome = await store.create(response, if_none_exist=urlencode({"identifier": f"{TOKEN_SYSTEM}|{invitation}"}))
    if not outcome.created:
        raise Conflict("this survey has already been answered")
    return outcome.content or response
