"""Error logs without PHI. A traceback's exception message can quote the data that caused it (a name, a phone
number, a message body), so unexpected errors are logged by type and stack frames only; database errors, whose
texts quote SQL parameters, are reduced so whoever logs them (``redact_database_errors``)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

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


def is_database_error(exc: BaseException) -> bool:
    """An error raised by SQLAlchemy or a database driver (or caused by one): its text can quote SQL parameters
    (a name, a phone number) or the rows a constraint compared."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__ or ""
        if module.split(".", 1)[0] in _DATABASE_MODULES:
            return True
        current = current.__cause__ or current.__context__
    return False


_DATABASE_MODULES = frozenset({"sqlalchemy", "psycopg", "psycopg2", "asyncpg", "sqlite3", "aiosqlite"})


def _data_record(record: logging.LogRecord) -> bool:
    """Debug records whose arguments are data: SQLAlchemy's result rows (``Row %r``, logged when its engine
    logger is at DEBUG) and aiosqlite's (each call it runs, with the SQL parameters, and the errors they caused)."""
    name = record.name
    return (name == "aiosqlite" or name.startswith("aiosqlite.")) or (
        name.startswith("sqlalchemy.engine") and record.msg == "Row %r"
    )


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with any database error in it (the traceback it carries, or an argument) reduced to its type and
    stack frames, whoever logs it: uvicorn's "Exception in ASGI application", a job runner, a library; and the
    data of database drivers' debug records withheld."""
    if record.args and _data_record(record):
        count = len(record.args) if isinstance(record.args, tuple) else 1
        record.args = ("<withheld>",) * count
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, BaseException) and is_database_error(exc):
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: keep the format string only
            message = str(record.msg)
        record.msg, record.args = f"{message} [{safe_traceback(exc)}]", ()
        record.exc_info, record.exc_text = None, None
    elif isinstance(record.args, tuple) and any(
        isinstance(a, BaseException) and is_database_error(a) for a in record.args
    ):
        record.args = tuple(
            f"{type(a).__name__} (message withheld)" if isinstance(a, BaseException) and is_database_error(a) else a
            for a in record.args
        )
    return record


class _RedactingFactory:
    """Wraps the process's log record factory (see ``redact_database_errors``)."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        return _redacted(self.inner(*args, **kwargs))


def redact_database_errors() -> None:
    """Install (once per process) the record factory that keeps database error texts out of every log. A filter
    would only see records of the logger it is on, not those its children propagate; the factory sees them all."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))
