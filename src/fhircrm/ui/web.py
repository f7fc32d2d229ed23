"""What every page of the app shares: the templates, HTML error pages and CSRF.

``PageRoute`` is the route class of the UI and app routers: it turns refusals and FHIR errors into HTML pages
(not OperationOutcomes) and audits the 403s. The security headers (CSP with the EHR frame-ancestors, HSTS,
nosniff) come from the app-wide middleware in ``fhircrm.security.headers``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from fhircrm.assets import asset_url
from fhircrm.errors import FhircrmError, PageError, SignInRequired
from fhircrm.ui.clock import local
from fhircrm.ui.refusals import audit_refusal

log = logging.getLogger(__name__)
APP_DIR = Path(__file__).resolve().parents[3] / "smart_app"
templates = Jinja2Templates(directory=str(APP_DIR / "templates"))
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True
templates.env.filters["local"] = local  # {{ moment|local(zone) }}: the clinic's time, zone shown
templates.env.globals["asset"] = asset_url  # {{ asset("app.css") }}: a fingerprinted, long-cached URL


__all__ = ["Forbidden", "PageError", "PageRoute", "SignInRequired", "check_csrf", "error_page", "templates"]


class Forbidden(PageError):
    status, code = 403, "forbidden"
    title = "Not allowed"


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return templates.TemplateResponse(
        request, "error.html", {"title": title, "message": message, "session": None}, status_code=status
    )


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except FhircrmError as exc:  # PageError included
                await _unwind(request, exc)
                if exc.status == 403:  # refusals are audited, as at the API
                    await audit_refusal(request, exc.status)
                if isinstance(exc, PageError):
                    response = error_page(request, exc.status, exc.title, str(exc))
                else:
                    log.info("ui request refused: %s", type(exc).__name__)
                    response = error_page(request, exc.status, "Request refused", str(exc))
            return response  # security headers: fhircrm.security.headers, for every route

        return route


async def _unwind(request: Request, exc: Exception) -> None:
    """Exit the request's dependencies WITH the error, so the store's transaction rolls back: a refused request
    changes nothing. (FastAPI closes them after this wrapper returns, and we return a page, not the error.)"""
    stack = request.scope.get("fastapi_function_astack")
    if stack is not None:
        await stack.__aexit__(type(exc), exc, exc.__traceback__)


def check_csrf(request: Request, expected: str, submitted: str | None) -> None:
    """Per-session token: from the form field ``csrf`` or the ``X-CSRF-Token`` header htmx sends."""
    candidate = submitted or request.headers.get("x-csrf-token") or ""
    if not expected or not hmac.compare_digest(candidate.encode(), expected.encode()):
        raise Forbidden("the form is stale or did not come from this app: reload the page and try again")
