"""Patient 360 (the launch target) and its quick actions: message, follow-up Task, waitlist."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fhircrm.channels.codes import PURPOSES
from fhircrm.channels.outbound import TemplateError, queue_message
from fhircrm.deps import SessionStoreDep
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.ui import actions
from fhircrm.ui.access import require_clinical, require_patient
from fhircrm.ui.common import back, form_of, page
from fhircrm.ui.patient360 import gather
from fhircrm.ui.web import PageError, PageRoute

router = APIRouter(route_class=PageRoute)
#: Canned messages ("templates" for the generic message template): the coordinator picks one and may edit it.
MESSAGES = {
    "call-us": "Please call the clinic when you have a moment; we would like to talk with you.",
    "results": "Your recent results are ready. Please book a short visit or call us to go through them.",
    "reschedule": "We missed you at your last visit. Reply or call us to find a new time that suits you.",
    "custom": "",
}
SERVICE_LINES = ("primary-care", "cardiology", "dermatology", "pediatrics", "physiotherapy")


@router.get("/patients/{patient_id}", name="patient_360")
async def patient_360(patient_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_patient(session, patient_id)
    view = await gather(store, request.app.state.settings, patient_id)
    if not view.patient:
        raise PageError("no such patient", status=404, title="Not found")
    return page(
        request,
        session,
        "patient.html",
        view=view,
        messages=MESSAGES,
        purposes=PURPOSES,
        lines=SERVICE_LINES,
        outcomes=actions.OUTCOMES,
        notice=request.query_params.get("done", ""),
    )


@router.post("/patients/{patient_id}/message", name="patient_message")
async def send_message(patient_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_patient(session, patient_id)
    form = await form_of(request, session)
    text = (form.get("body") or MESSAGES.get(form.get("template", ""), "")).strip()
    if not text or len(text) > 1600:
        raise PageError("write a message (up to 1600 characters)", status=422)
    purpose = form.get("purpose") or "care-coordination"
    try:
        await queue_message(
            store,
            patient=patient_id,
            template="generic",
            purpose=purpose,
            context={"body": text, "subject": "A message from your clinic"},
            channel=form.get("channel") or None,
            check_cap=False,
            settings=request.app.state.settings,
        )
    except TemplateError as exc:
        raise PageError(str(exc), status=422) from exc
    return back(request, f"/ui/patients/{patient_id}?done=message", "timeline")


@router.post("/patients/{patient_id}/tasks", name="patient_task")
async def create_task(patient_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_patient(session, patient_id)
    form = await form_of(request, session)
    try:
        days = int(form.get("due_days") or 2)
    except ValueError:
        raise PageError("the due date must be a number of days", status=422) from None
    task = actions.follow_up_task(
        patient_id,
        description=str(form.get("description", ""))[:1000],
        due_days=days,
        priority=form.get("priority") or "routine",
        owner=session.fhir_user if form.get("mine") else None,
    )
    await store.create(task)
    return back(request, f"/ui/patients/{patient_id}?done=task", "tasks")


@router.post("/patients/{patient_id}/waitlist", name="patient_waitlist")
async def waitlist(patient_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_patient(session, patient_id)
    form = await form_of(request, session)
    line = form.get("service_line", "")
    if line and line not in SERVICE_LINES:
        raise PageError("unknown service line", status=422)
    try:
        days = int(form.get("within_days") or 30)
    except ValueError:
        raise PageError("the window must be a number of days", status=422) from None
    entry = actions.waitlist_entry(
        patient_id, service_line=line, within_days=days, note=str(form.get("note", ""))[:500]
    )
    await store.create(entry)
    return back(request, f"/ui/patients/{patient_id}?done=waitlist", "appointments")
