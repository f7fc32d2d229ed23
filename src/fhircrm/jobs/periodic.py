"""Periodic work: a named task every N seconds, run by each worker's scheduler under a PostgreSQL advisory lock
named after it, so with several workers only one runs it at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

PeriodicFunc = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    seconds: float
    func: PeriodicFunc


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


async def run_periodic(engine: AsyncEngine, task: Periodic) -> bool:
    """Run ``task`` in one transaction if no other worker is running it now; returns whether it ran."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            got = (await conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(lock_key(task.name))))).scalar()
            if not got:
                return False
        await task.func(conn)
    return True
