"""Request plumbing the page modules share: the page renderer and the form's CSRF check."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from fhircrm.config import Settings
from fhircrm.smartapp.sessions import AppSession
from fhircrm.ui.access import screens
from fhircrm.ui.clock import clinic_zone
from fhircrm.ui.web import check_csrf, templates


def page(request: Request, session: AppSession, template: str, *, code: int = 200, **context: Any) -> Response:
    """Render ``template``; htmx requests get the same template (pages mark their swappable parts)."""
    context.setdefault("active", template.split(".")[0])
    context.setdefault("screens", screens(request))
    context.setdefault("zone", clinic_zone(request.app.state.settings))
    context.setdefault("refresh", refresh_seconds(request.app.state.settings))
    return templates.TemplateResponse(
        request, template, {"session": session, "csrf": session.csrf, **context}, status_code=code
    )


def refresh_seconds(settings: Settings) -> dict[str, float]:
    """How often the live lists merge in fresh rows (``data-live-seconds``; a test sets them short)."""
    return {"worklist": settings.ui_worklist_refresh_seconds, "inbox": settings.ui_inbox_refresh_seconds}


async def form_of(request: Request, session: AppSession) -> dict[str, Any]:
    """The submitted form after its CSRF token checked out; list fields (``ids``) stay lists."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if key.endswith("ids") else (values[0] if values else "")
    check_csrf(request, session.csrf, data.get("csrf"))
    return data


def back(request: Request, url: str, fragment: str = "") -> Response:
    """After a POST: htmx follows ``HX-Redirect``; a plain form follows the 303."""
    target = url + (f"#{fragment}" if fragment else "")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
