"""``/survey/{token}``: the public, login-free survey form behind a signed, expiring link."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fhircrm.clock import current_time
from fhircrm.deps import ServiceStoreDep
from fhircrm.errors import FhircrmError, NotFound
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys.form import render_form, render_thanks
from fhircrm.surveys.questionnaires import questionnaire
from fhircrm.surveys.record import record_response
from fhircrm.surveys.tokens import Invitation, verify

router = APIRouter(prefix="/survey", tags=["surveys"])


async def _clinic(store: FhirStore, patient: dict) -> str:
    """The clinic's name for the page header: the patient's managing organization ("" when unknown)."""
    org = patient.get("managingOrganization") or {}
    if org.get("display"):
        return str(org["display"])
    reference = str(org.get("reference", ""))
    if reference.startswith("Organization/"):
        try:
            found = (await store.read("Organization", split(reference)[1])).content or {}
        except FhircrmError:  # not known, deleted or not visible: the page says "our clinic"
            return ""
        return str(found.get("name", ""))
    return ""


async def _open(request: Request, store: FhirStore, token: str) -> tuple[Invitation, dict, str, str]:
    settings = request.app.state.settings
    invitation = verify(token, settings, current_time(settings))
    q = await questionnaire(store, invitation.questionnaire)
    if q is None:
        raise NotFound("unknown survey")
    patient = (await store.read("Patient", invitation.patient)).content or {}
    language = next(
        (
            c.get("code", "")[:2]
            for p in patient.get("communication", [])
            for c in p.get("language", {}).get("coding", [])
        ),
        settings.channels_default_language,
    )
    return invitation, q, language, await _clinic(store, patient)


@router.get("/{token}", response_class=HTMLResponse)
async def survey_form(token: str, request: Request, store: ServiceStoreDep) -> HTMLResponse:
    _invitation, q, language, clinic = await _open(request, store, token)
    return HTMLResponse(render_form(q, language, clinic), headers={"Cache-Control": "no-store"})


@router.post("/{token}", response_class=HTMLResponse)
async def survey_answer(token: str, request: Request, store: ServiceStoreDep) -> HTMLResponse:
    invitation, q, language, clinic = await _open(request, store, token)
    answers = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    await record_response(
        store,
        questionnaire=q,
        patient=invitation.patient,
        touchpoint=invitation.touchpoint,
        answers=answers,
        invitation=invitation.nonce,
        now=current_time(request.app.state.settings),
        about=invitation.about,
        channel="web",
    )
    return HTMLResponse(render_thanks(language, clinic), status_code=201, headers={"Cache-Control": "no-store"})
