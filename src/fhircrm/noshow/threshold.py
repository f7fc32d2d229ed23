"""The clinic's call threshold: the risk above which a booking gets a call, chosen on the validation curve.

The cut is the highest risk that still catches the target share of no-shows (50% by default) among the validation
bookings: every lower cut makes more calls for no fewer catches. It is stored with the model with what it
cost on the validation days (calls per day, the share of calls that reach a would-be no-show).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class CallThreshold:
    risk: float
    target_catch: float
    catch_rate: float  # share of no-shows at or above the cut
    calls_per_day: float  # bookings at or above the cut per visit day
    precision: float  # share of those that were no-shows
    days: int

    def as_json(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _days(starts: list[datetime]) -> int:
    return max(len({s.date() for s in starts}), 1)


def choose(labels: np.ndarray, scores: np.ndarray, starts: list[datetime], *, target: float = 0.5) -> CallThreshold:
    """The cut that catches ``target`` of the no-shows with the fewest calls."""
    order = np.argsort(-scores, kind="mergesort")
    caught = np.cumsum(labels[order])
    total = caught[-1] if len(caught) else 0.0
    if not total:
        raise ValueError("no no-shows to catch in the validation bookings")
    k = int(np.searchsorted(caught, target * total, side="left"))  # the (k+1)th riskiest booking reaches it
    risk = float(scores[order][k])
    return judge(labels, scores, starts, risk=risk, target=target)


def judge(
    labels: np.ndarray, scores: np.ndarray, starts: list[datetime], *, risk: float, target: float = 0.5
) -> CallThreshold:
    """What a cut catches and costs on these bookings (e.g. the later, held-out ones)."""
    called = scores >= risk
    positives = labels.sum()
    return CallThreshold(
        risk=risk,
        target_catch=target,
        catch_rate=float(labels[called].sum() / positives) if positives else 0.0,
        calls_per_day=float(called.sum() / _days(starts)),
        precision=float(labels[called].mean()) if called.any() else 0.0,
        days=_days(starts),
    )
