"""Security headers on every response (UI pages, the FHIR API, webhooks), set in one place.

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` everywhere (URLs can carry search
  values; no page should hand them to another site);
- ``Strict-Transport-Security`` when the request came over HTTPS (directly, or ``X-Forwarded-Proto: https``
  from the TLS-terminating proxy; uvicorn runs with proxy headers);
- HTML: a strict CSP whose ``frame-ancestors`` are this origin and the configured EHR origins
  (``app_frame_ancestors``), so the app can be embedded in the EHR and nowhere else; ``Cache-Control: no-store``;
- JSON: ``default-src 'none'; frame-ancestors 'none'`` (an API answer is never a page to render or frame).

A route that sets its own CSP (the web chat demo page) keeps it.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhircrm.config import Settings

HSTS = "max-age=31536000; includeSubDomains"
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def content_security_policy(settings: Settings) -> str:
    ancestors = " ".join(["'self'", *settings.app_frame_ancestors])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors {ancestors}"
    )


def came_over_https(scope: Scope) -> bool:
    forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
    return scope.get("scheme") == "https" or forwarded.split(",")[0].strip().lower() == "https"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = came_over_https(scope)
        settings = getattr(getattr(scope.get("app"), "state", None), "settings", self.settings)  # current ones

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_headers(MutableHeaders(scope=message), settings, https=https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_headers(headers: MutableHeaders, settings: Settings, *, https: bool) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if https:
        headers.setdefault("Strict-Transport-Security", HSTS)
    content_type = headers.get("content-type", "")
    if content_type.startswith("text/html"):
        headers.setdefault("Content-Security-Policy", content_security_policy(settings))
        headers.setdefault("Cache-Control", "no-store")
    elif "json" in content_type:
        headers.setdefault("Content-Security-Policy", API_CSP)
