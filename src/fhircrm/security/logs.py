"""Error logs without PHI. A traceback's exception message can quote the data that caused it (a name, a phone
number, a message body), so unexpected errors are logged by type and stack frames only."""

from __future__ import annotations

import logging
import traceback

import httpx


def safe_traceback(exc: BaseException, *, limit: int = 12) -> str:
    """``Type at file:line in function <- ...`` for ``exc`` and its causes; never the messages."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)[-limit:]
        where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in reversed(frames))
        parts.append(f"{type(current).__name__} at {where or '?'}")
        current = current.__cause__ or current.__context__
    return " | caused by ".join(parts)


class DropQueryStrings(logging.Filter):
    """HTTP client logs (``httpx``: ``HTTP Request: GET <url> ...``) without the URL's query string: the EHR
    connector and providers search by identifiers, names or phone numbers, and logs must not carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


def _without_query(value: object) -> object:
    text = str(value) if isinstance(value, httpx.URL) else value
    if isinstance(text, str) and text.startswith(("http://", "https://")) and "?" in text:
        return text.split("?", 1)[0] + "?<query>"
    return value


def quiet_query_strings() -> None:
    """Install the filter on the HTTP client loggers (idempotent)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
            logger.addFilter(DropQueryStrings())
