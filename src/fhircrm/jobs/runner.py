"""The job runner: claim due jobs, run their handlers, record the outcome. Safe to run in many processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.jobs import queue
from fhircrm.jobs.registry import JobKind, JobRegistry, RetryLater
from fhircrm.logs import is_database_error, safe_traceback

log = logging.getLogger(__name__)


def error_text(exc: Exception) -> str:
    """What a dead letter keeps of its error: a database error's text can quote the SQL parameters (patient data)
    and the job table is read by operators, so of those only the type and stack frames."""
    return safe_traceback(exc) if is_database_error(exc) else f"{type(exc).__name__}: {exc}"


class JobRunner:
    def __init__(self, engine: AsyncEngine, registry: JobRegistry, *, poll_interval: float = 1.0):
        self.engine = engine
        self.registry = registry
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Run one batch of every kind that has due work; returns how many jobs were attempted."""
        attempted = 0
        for kind in self.registry.kinds:
            attempted += await self._run_batch(kind)
        return attempted

    async def drain(self, *, max_rounds: int = 10_000) -> int:
        """Run until no job is due (tests and ``fhircrm worker --once``)."""
        total = 0
        for _ in range(max_rounds):
            attempted = await self.run_once()
            total += attempted
            if attempted == 0:
                break
        return total

    async def _run_batch(self, kind: JobKind) -> int:
        async with self.engine.begin() as conn:
            jobs = await queue.claim(conn, [kind.name], limit=kind.batch_size)
            if kind.batch_handler is not None and len(jobs) > 1 and await self._run_whole(conn, kind, jobs):
                await queue.finish(conn, [job.id for job in jobs])
                return len(jobs)
            done: list[int] = []
            for job in jobs:
                try:
                    async with conn.begin_nested():
                        await kind.handler(conn, job)
                except RetryLater as exc:
                    retry_at = queue.utcnow() + queue.timedelta(seconds=exc.seconds) if exc.seconds else None
                    await queue.fail(conn, job, f"retry: {exc}", max_attempts=kind.max_attempts, retry_at=retry_at)
                except Exception as exc:  # one bad job must not stop the others
                    outcome = await queue.fail(conn, job, error_text(exc), max_attempts=kind.max_attempts)
                    log.warning(
                        "job %s (%s) failed, attempt %d: %s -> %s",
                        job.id,
                        kind.name,
                        job.attempts,
                        type(exc).__name__,
                        outcome,
                    )
                else:
                    done.append(job.id)
            await queue.finish(conn, done)
        return len(jobs)

    @staticmethod
    async def _run_whole(conn, kind: JobKind, jobs: list) -> bool:  # type: ignore[no-untyped-def]
        assert kind.batch_handler is not None
        try:
            async with conn.begin_nested():
                await kind.batch_handler(conn, jobs)
        except Exception as exc:
            log.warning(
                "batch of %d %s jobs failed (%s); running them one by one", len(jobs), kind.name, type(exc).__name__
            )
            return False
        return True

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Work while there is work; otherwise sleep until woken (LISTEN/NOTIFY) or the poll interval passes."""
        while not stop.is_set():
            try:
                attempted = await self.run_once()
            except Exception:
                log.exception("job runner round failed; retrying after the poll interval")
                attempted = 0
            if attempted:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._wake, stop), timeout=self.poll_interval)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
