"""Retry-After, backoff and a per-process circuit breaker for calls to the EHR.

The breaker lives in each process (API replicas never call the EHR on a request path, workers do): when the
EHR fails ``failures`` times in a row, calls are refused at once for ``reset_seconds`` (jobs are retried later,
nothing is lost), then one trial call decides whether it closes again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from fhircrm.ehr.errors import EhrUnavailable

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """0.5 s, 1 s, 2 s ... for attempt 1, 2, 3 ..., capped."""
    return min(cap, base * 2 ** max(0, attempt - 1))


class CircuitBreaker:
    def __init__(self, *, failures: int = 5, reset_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self.reset_seconds else "open"

    def check(self) -> None:
        """Raise EhrUnavailable while open; in half-open, let one trial call through."""
        if self.state == "open":
            remaining = self.reset_seconds - (self._clock() - (self._opened_at or 0.0))
            raise EhrUnavailable("the EHR circuit is open after repeated failures", retry_after=max(1.0, remaining))
        if self.state == "half-open":
            self._opened_at = self._clock()  # one trial per reset period; success closes it

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self.threshold:
            self._opened_at = self._clock()
