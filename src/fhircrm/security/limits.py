"""The request size limit, for every route: a declared ``Content-Length`` over the limit is answered 413 before
the app runs; a streamed (chunked) body is counted as it is read and cut off with 413 once it passes the limit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhircrm.audit.requests import audit_failure
from fhircrm.errors import PayloadTooLarge
from fhircrm.fhir.outcomes import error_response


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _current_limit(scope, self.max_bytes)
        too_large = PayloadTooLarge(f"request body larger than {limit} bytes")
        if _declared_length(scope) > limit:
            await _refuse(scope, receive, send, too_large)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large  # the app's FhircrmError handler answers (and audits) the 413
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if started:  # too late for a 413: the connection is cut
                raise
            await _refuse(scope, receive, send, too_large)


async def _refuse(scope: Scope, receive: Receive, send: Send, error: PayloadTooLarge) -> None:
    """413 without reading the body; audited like every refused request."""
    app = scope.get("app")
    engine = getattr(getattr(app, "state", None), "engine", None)
    if engine is not None:
        await audit_failure(engine, Request(scope), error)
    await error_response(error)(scope, receive, send)


def _current_limit(scope: Scope, default: int) -> int:
    """The app's current ``max_request_bytes`` (settings can be swapped at runtime), else the installed one."""
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    return getattr(settings, "max_request_bytes", default)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else 0
    return 0
