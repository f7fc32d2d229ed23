"""Expected attendance of a session (one practitioner or location on one day): how many will not come.

The number of no-shows among independent bookings with risks p1..pn follows a Poisson-binomial distribution;
its exact distribution is a short dynamic programme (n * n steps: fine for a session's tens of bookings). The
interval is central (5% of the mass left out on each side for 90%); the suggested extra bookings is its lower end:
with 95% probability at least that many booked patients will not come, so those extra places are rarely needed
by the patients who were booked first. A clinic can accept or ignore it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


def poisson_binomial(risks: Sequence[float]) -> np.ndarray:
    """P(k no-shows) for k = 0..n, exactly."""
    pmf = np.zeros(len(risks) + 1)
    pmf[0] = 1.0
    for i, p in enumerate(risks, start=1):
        p = min(max(float(p), 0.0), 1.0)
        pmf[1 : i + 1] = pmf[1 : i + 1] * (1 - p) + pmf[0:i] * p
        pmf[0] *= 1 - p
    return pmf


def interval(risks: Sequence[float], level: float = 0.9) -> tuple[int, int]:
    """The central ``level`` interval of the no-show count: (lowest k with CDF > tail, lowest k with CDF >= 1-tail)."""
    cdf = np.cumsum(poisson_binomial(risks))
    tail = (1 - level) / 2
    low = int(np.searchsorted(cdf, tail, side="right"))
    high = int(np.searchsorted(cdf, 1 - tail - 1e-12, side="left"))
    return low, min(high, len(risks))


@dataclass(frozen=True, slots=True)
class Expected:
    bookings: int
    expected_noshows: float
    low: int
    high: int

    @property
    def extra_bookings(self) -> int:
        """Overbooking the clinic may accept: the interval's lower end."""
        return self.low

    @property
    def expected_attendance(self) -> float:
        return self.bookings - self.expected_noshows


def expected(risks: Sequence[float], level: float = 0.9) -> Expected:
    low, high = interval(risks, level)
    return Expected(len(risks), float(sum(risks)), low, high)


def coverage(sessions: Iterable[tuple[Sequence[float], int]], level: float = 0.9) -> tuple[float, int]:
    """Share of sessions whose observed no-show count fell inside their interval, and how many sessions."""
    inside = total = 0
    for risks, observed in sessions:
        low, high = interval(risks, level)
        inside += low <= observed <= high
        total += 1
    return (inside / total if total else 0.0), total
