"""Ask a patient for feedback at a touchpoint: fatigue rules first, then a signed link on their channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fhircrm.channels.outbound import queue_message
from fhircrm.config import Settings
from fhircrm.errors import Unprocessable
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys.codes import TOUCHPOINTS
from fhircrm.surveys.fatigue import blocked_by_fatigue
from fhircrm.surveys.questionnaires import questionnaire
from fhircrm.surveys.tokens import Invitation, new_nonce, sign


@dataclass(frozen=True, slots=True)
class SurveyOutcome:
    communication: dict | None  # the invitation (None when fatigue rules stopped it)
    link: str | None
    skipped: str | None = None  # "recent-survey" | "open-complaint"


def survey_link(settings: Settings, token: str) -> str:
    root = settings.surveys_public_url or settings.base_url.removesuffix("/fhir")
    return f"{root.rstrip('/')}/survey/{token}"


def invitation_context(settings: Settings, invitation: Invitation) -> dict:
    """Template variables of the survey-invitation message (journeys' send-survey can use this too)."""
    return {"survey_link": survey_link(settings, sign(invitation, settings))}


async def send_survey(
    store: FhirStore,
    *,
    patient: str,
    questionnaire_url: str,
    touchpoint: str,
    settings: Settings,
    now: datetime,
    about: list[str] | None = None,
    channel: str | None = None,
    context: dict | None = None,
    nonce: str | None = None,
) -> SurveyOutcome:
    """Queue a survey invitation to ``patient`` unless fatigue rules forbid it. The Communication is about the
    Questionnaire (and ``about``: the Encounter, Appointment or Task surveyed) and its topic names the
    touchpoint, so a reply by SMS can be matched to the survey. A fixed ``nonce`` (a journey's planned message)
    makes sending twice queue one invitation."""
    if touchpoint not in TOUCHPOINTS:
        raise Unprocessable(f"unknown touchpoint {touchpoint!r}")
    patient_ref = f"Patient/{patient.split('/', 1)[-1]}"
    if reason := await blocked_by_fatigue(store, patient_ref, now, settings.surveys_fatigue_days):
        return SurveyOutcome(None, None, reason)
    q = await questionnaire(store, questionnaire_url)
    if q is None:
        raise Unprocessable(f"no Questionnaire {questionnaire_url}")
    invitation = Invitation(
        patient=split(patient_ref)[1],
        questionnaire=questionnaire_url,
        touchpoint=touchpoint,
        nonce=nonce or new_nonce(),
        expires=int((now + timedelta(days=settings.surveys_link_days)).timestamp()),
        about=tuple(about or ()),
    )
    patient_resource = (await store.read("Patient", invitation.patient)).content or {}
    given = ((patient_resource.get("name") or [{}])[0].get("given") or ["there"])[0]
    ctx = {"patient_name": given, "clinic_name": "our clinic", **(context or {})}
    ctx.update(invitation_context(settings, invitation))
    communication = await queue_message(
        store,
        patient=patient_ref,
        template="survey-invitation",
        purpose="survey",
        context=ctx,
        channel=channel,
        about=[f"Questionnaire/{q['id']}", *(about or [])],
        topic=f"survey:{touchpoint}",
        dedupe_key=f"survey:{invitation.nonce}",
        settings=settings,
        now=now,
    )
    return SurveyOutcome(communication, ctx["survey_link"])
