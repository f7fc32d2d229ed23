"""``/ui/inbox``: threads with unread/waiting state, reply on the patient's channel, escalate, close.

The thread operations are the inbox package's (``fhircrm.inbox``); this module only renders them. The thread
list refreshes itself every few seconds (smart_app/static/live.js merges the list fragment's rows by id),
which is the live update.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fhircrm.deps import SessionStoreDep
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox import routes as inbox_api
from fhircrm.inbox import threads
from fhircrm.inbox.views import thread_view
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.ui.access import require_clinical, require_user
from fhircrm.ui.common import back, form_of, page
from fhircrm.ui.fetch import human_name, parse_instant, ref_id
from fhircrm.ui.reply_channels import reply_channels
from fhircrm.ui.web import PageError, PageRoute

router = APIRouter(route_class=PageRoute)
REPLIES = {
    "ack": "Thank you for your message. A member of our team will get back to you shortly.",
    "booked": "We have booked the appointment for you. You will get a reminder before the visit.",
    "call": "Thanks for reaching out. Could you call us at the clinic so we can help you directly?",
}
ESCALATIONS = ("callback", "complaint", "reschedule", "result-follow-up")


async def _names(store: FhirStore, refs: list[str | None]) -> dict[str, str]:
    ids = sorted({ref_id(r, "Patient") for r in refs if ref_id(r, "Patient")})
    if not ids:
        return {}
    found = (await store.search("Patient", [("_id", ",".join(ids)), ("_count", str(len(ids)))])).matches
    return {f"Patient/{p['id']}": human_name(p) for p in found}


def _row(view: dict, names: dict[str, str]) -> dict:
    return {
        **view,
        "patient_name": names.get(view["patient"] or "", "Unknown sender"),
        "last": parse_instant(view.get("last_activity")),
    }


async def _threads(store: FhirStore, status: str) -> list[dict]:
    listing = await inbox_api.list_threads(store, status=status, owner=None, patient=None, count=100)
    views = listing["threads"]
    names = await _names(store, [v["patient"] for v in views])
    rows = [_row(v, names) for v in views]
    return sorted(rows, key=lambda r: (not r["unread"], not r["waiting"]))


@router.get("/inbox", name="inbox")
async def inbox_page(request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_user(session, "search", "Communication")
    status = request.query_params.get("status", "open")
    status = status if status in ("open", "closed", "all") else "open"
    rows = await _threads(store, status)
    template = "inbox_list.html" if request.query_params.get("fragment") == "list" else "inbox.html"
    # A thread page's list refresh names its thread, so the open thread stays marked in the refreshed list.
    current = request.query_params.get("thread") if template == "inbox_list.html" else None
    return page(request, session, template, rows=rows, status=status, selected={"id": current} if current else None)


@router.get("/inbox/threads/{thread_id}", name="inbox_thread")
async def thread_page(thread_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_user(session, "read", "Communication")
    thread = await threads.read_thread(store, thread_id)
    if threads.state_of(thread) == "unread":
        thread = await threads.update(store, thread_id, {"read": True})
    detail = await inbox_api.get_thread(thread_id, store)
    names = await _names(store, [detail["patient"]])
    messages = [{**m, "at_time": parse_instant(m["at"])} for m in detail["messages"]]
    rows = await _threads(store, "open")
    channels = await reply_channels(store, detail["patient"], threads.channel_of(thread))
    return page(
        request,
        session,
        "inbox.html",
        rows=rows,
        status="open",
        selected=_row(thread_view(thread), names),
        messages=messages,
        escalations=detail["escalations"],
        replies=REPLIES,
        escalation_codes=ESCALATIONS,
        reply_on=channels,
    )


@router.post("/inbox/threads/{thread_id}/reply", name="inbox_reply")
async def reply(thread_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_user(session, "create", "Communication")
    form = await form_of(request, session)
    text = (form.get("text") or REPLIES.get(form.get("template", ""), "")).strip()
    if not text or len(text) > 4000:
        raise PageError("write a reply (up to 4000 characters)", status=422)
    thread = await threads.read_thread(store, thread_id)
    channels = await reply_channels(store, (thread.get("for") or {}).get("reference"), threads.channel_of(thread))
    chosen = form.get("channel") or channels.default
    permitted = channels.allowed if channels.blocked else [channels.channel, *channels.allowed]
    if chosen not in permitted:  # refused before anything is written or sent
        why = channels.blocked or "the patient has not consented to that channel or has no address on it"
        raise PageError(f"no reply sent: {why}; choose a channel the patient consented to", status=422)
    other = chosen if chosen and chosen != channels.channel else None
    await inbox_api.reply(thread_id, inbox_api.Reply(text=text, channel=other), request, store)
    return back(request, f"/ui/inbox/threads/{thread_id}", "messages")


@router.post("/inbox/threads/{thread_id}/escalate", name="inbox_escalate")
async def escalate(thread_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_user(session, "create", "Task")
    form = await form_of(request, session)
    if form.get("code") not in ESCALATIONS:
        raise PageError("choose what kind of task to create", status=422)
    owner = session.fhir_user if form.get("mine") else None
    await threads.escalate(store, thread_id, code=form["code"], note=str(form.get("note", ""))[:2000], owner=owner)
    return back(request, f"/ui/inbox/threads/{thread_id}")


@router.post("/inbox/threads/{thread_id}/close", name="inbox_close")
async def close(thread_id: str, request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_user(session, "update", "Task")
    form = await form_of(request, session)
    await threads.close(store, thread_id, resolution=str(form.get("resolution", ""))[:2000])
    return back(request, "/ui/inbox")
