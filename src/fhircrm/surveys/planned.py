"""A journey's ``send-survey`` step, due now (the ``survey`` timer kind): the survey goes out through
``send_survey`` like any other.

So a journey's invitation has the signed link, obeys the fatigue rules, is about the Questionnaire and names
its touchpoint (an SMS reply of a number is then scored, never read as "confirm"/"cancel").
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from fhircrm.channels.due_messages import message_context
from fhircrm.config import Settings
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys.questionnaires import questionnaire
from fhircrm.surveys.send import SurveyOutcome, send_survey
from fhircrm.timers.dispatch import COMPLETED, Dispatch, Outcome
from fhircrm.timers.resources import channel_of, patient_of

log = logging.getLogger(__name__)

#: the touchpoint surveyed, from the journey subject's type (an explicit ``touchpoint`` in the step data wins)
_TOUCHPOINTS = {
    "Appointment": "post-visit",
    "Encounter": "post-visit",
    "DiagnosticReport": "result-delivery",
    "Task": "complaint-closure",
}


def planned_nonce(request_id: str) -> str:
    """A nonce fixed by the planned message: a retried send queues the same invitation, not a second one."""
    return hashlib.sha256(f"CommunicationRequest/{request_id}".encode()).hexdigest()[:16]


async def send_planned_survey(
    store: FhirStore,
    *,
    request_id: str,
    patient: str,
    context: dict,
    channel: str | None,
    settings: Settings,
    now: datetime,
) -> SurveyOutcome | None:
    """Send the survey a journey planned (``context`` holds ``questionnaire`` and ``subject``); None when the
    Questionnaire is unknown (logged: a journey definition naming a Questionnaire nobody loaded)."""
    url = context["questionnaire"]
    if await questionnaire(store, url) is None:
        log.warning("journey survey skipped: unknown questionnaire", extra={"request": request_id, "url": url})
        return None
    subject = context.get("subject") or ""
    touchpoint = context.get("touchpoint") or _TOUCHPOINTS.get(subject.split("/", 1)[0], "post-visit")
    return await send_survey(
        store,
        patient=patient,
        questionnaire_url=url,
        touchpoint=touchpoint,
        settings=settings,
        now=now,
        about=[subject] if "/" in subject else None,
        channel=channel,
        context={k: v for k, v in context.items() if isinstance(v, str)},
        nonce=planned_nonce(request_id),
    )


def survey_dispatcher(settings: Settings) -> Dispatch:
    """The dispatcher of ``survey`` timers (a message timer whose data names a Questionnaire): the invitation,
    with the variables a message template would see. Done even when skipped (a fatigue rule, an unknown
    Questionnaire): sending it later would not change that."""

    async def send_due_survey(store: FhirStore, request: dict, now: datetime) -> Outcome:
        await send_planned_survey(
            store,
            request_id=request["id"],
            patient=patient_of(request) or "",
            context=await message_context(store, request, settings),
            channel=channel_of(request),
            settings=settings,
            now=now,
        )
        return COMPLETED

    return send_due_survey
