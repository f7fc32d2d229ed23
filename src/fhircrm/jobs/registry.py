"""Which code runs each kind of job, and how: batch size and attempts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.jobs.queue import Job


class RetryLater(Exception):
    """Raised by a handler for a transient failure that should be retried (after ``seconds`` if given)."""

    def __init__(self, reason: str, *, seconds: float | None = None):
        super().__init__(reason)
        self.seconds = seconds


#: A handler does its database work on ``conn`` inside the transaction that marks the job done, so its effects
#: and the job's completion commit together. External side effects (an HTTP call) should carry the job id as an
#: idempotency key, since a crash after the call and before the commit runs the job again.
Handler = Callable[[AsyncConnection, Job], Awaitable[None]]


#: Optional: handle a whole claimed batch at once (e.g. one multi-row write). If it raises, the runner falls back to
#: ``Handler`` job by job, so one bad job is isolated and the rest still go through.
BatchHandler = Callable[[AsyncConnection, list[Job]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    handler: Handler
    batch_size: int = 1  # >1 for database-only work: one commit per batch, a savepoint per job
    max_attempts: int = 8
    batch_handler: BatchHandler | None = None


class JobRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        name: str,
        handler: Handler,
        *,
        batch_size: int = 1,
        max_attempts: int = 8,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        if name in self._kinds:
            raise ValueError(f"job kind {name!r} is registered twice")
        self._kinds[name] = JobKind(name, handler, batch_size, max_attempts, batch_handler)

    def get(self, name: str) -> JobKind:
        return self._kinds[name]

    @property
    def kinds(self) -> list[JobKind]:
        return list(self._kinds.values())
