"""``/ui/worklist``: filter, claim, reassign, complete with an outcome, and the same in bulk."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fhircrm.deps import SessionStoreDep
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.smartapp.sessions import AppSession
from fhircrm.ui import actions, worklist
from fhircrm.ui.access import require_clinical, require_user
from fhircrm.ui.common import back, form_of, page
from fhircrm.ui.web import PageError, PageRoute

router = APIRouter(route_class=PageRoute)
TASK_REASONS = (
    "callback",
    "reschedule",
    "complaint",
    "service-recovery",
    "referral-follow-up",
    "result-follow-up",
    "identify-sender",
    "delivery-failed",
)
MAX_BULK = 200


def _return_to(form: dict) -> str:
    target = str(form.get("return") or "/ui/worklist")
    return target if target.startswith("/ui/worklist") and "//" not in target else "/ui/worklist"


@router.get("/worklist", name="worklist")
async def worklist_page(request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_user(session, "search", "Task")
    filters = worklist.Filters.of(dict(request.query_params))
    members = await worklist.segment_members(store, filters.segment) if filters.segment else None
    options = await worklist.options(store)
    rows = await worklist.load(store, filters, me=session.fhir_user, members=members, names=dict(options["staff"]))
    template = "worklist_rows.html" if request.headers.get("hx-request") and request.query_params.get("rows") else None
    return page(
        request,
        session,
        template or "worklist.html",
        rows=rows,
        filters=filters,
        options=options,
        reasons=TASK_REASONS,
        outcomes=actions.OUTCOMES,
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )


async def _one(store: SessionStoreDep, session: AppSession, task_id: str, form: dict) -> None:
    action = form.get("action", "")
    if action == "claim":
        if not session.fhir_user:
            raise PageError("your sign-in has no user identity (fhirUser) to claim tasks with", status=403)
        await actions.claim(store, task_id, session.fhir_user)
    elif action == "reassign":
        await actions.reassign(store, task_id, form.get("owner", ""))
    elif action == "complete":
        await actions.complete(store, task_id, form.get("outcome", ""), str(form.get("note", ""))[:500])
    else:
        raise PageError("unknown action", status=422)


@router.post("/worklist/tasks/{task_id}", name="worklist_task")
async def task_action(task_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_user(session, "update", "Task")
    form = await form_of(request, session)
    for one in dict.fromkeys([task_id, *_ids(form)]):  # a row of alike tasks acts on each of them
        await _one(store, session, one, form)
    return back(request, _return_to(form))


def _ids(form: dict) -> list[str]:
    """Task ids of the form: a row's checkbox carries its alike tasks' ids joined by commas."""
    return list(dict.fromkeys(i for value in form.get("ids") or [] for i in str(value).split(",") if i))


@router.post("/worklist/bulk", name="worklist_bulk")
async def bulk_action(request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    """One transaction: every selected task changes, or (on any refusal) none does."""
    require_clinical(request)
    require_user(session, "update", "Task")
    form = await form_of(request, session)
    ids = _ids(form)
    if not ids or len(ids) > MAX_BULK:
        raise PageError(f"select between 1 and {MAX_BULK} tasks", status=422)
    for task_id in ids:
        await _one(store, session, task_id, form)
    return back(request, _return_to(form))
