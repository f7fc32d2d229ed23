"""The last line before the server: an exception no handler took is answered here, as a 500 OperationOutcome
(audited), instead of reaching uvicorn. Starlette's server-error middleware re-raises after answering, and the
server then logs the exception *with its message* (which can quote PHI or, for a database error, SQL parameters)
and drops the keep-alive connection, so the client's next request on it is reset."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Answer = Callable[[Request, Exception], Awaitable[Response]]


class ContainErrors:
    def __init__(self, app: ASGIApp, *, answer: Answer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for an answer: the server must cut the connection
                raise
            response = await self.answer(Request(scope, receive), exc)
            await response(scope, receive, send)
