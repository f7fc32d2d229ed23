"""Wake workers the moment a job is committed, through PostgreSQL LISTEN/NOTIFY (polling remains the fallback)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from fhircrm.jobs.queue import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


def libpq_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(database_url: str, on_notify: Callable[[str], None], stop: asyncio.Event) -> None:
    """Call ``on_notify(kind)`` for every job notification until ``stop``; reconnects after errors."""
    dsn = libpq_dsn(database_url)
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                while not stop.is_set():
                    async for notify in conn.notifies(timeout=1.0):
                        on_notify(notify.payload)
        except psycopg.Error as exc:
            log.warning("job notifications unavailable (%s); polling until reconnected", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=2.0)
