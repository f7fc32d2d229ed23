"""Recalibration of a trained model's risks: Platt scaling of its log-odds, learned on the validation weeks only.

A model refitted on all training weeks is scored on the later weeks; its risks can be off in scale (too sure at
the top) even when they rank well. Platt scaling maps the log-odds z to ``slope * z + offset``, fitted by maximum
likelihood on the validation split inside the training weeks, using the out-of-sample scores of the model fitted
before that split (the shipped refit has seen the validation weeks, so its own scores of them say little about
later weeks). Targets are Platt's smoothed ones ((positives + 1) / (positives + 2), 1 / (negatives + 2)), which
keep the fit finite on small or separable splits.

The map is folded into the model (``scaled``): every log-odds contribution is multiplied by the slope and the
offset joins the intercept, so the explanation still sums exactly to the calibrated log-odds, and everything that
scores with the model (RiskAssessments, session outlooks, the call threshold) uses calibrated risks. A monotone
map leaves the ranking, hence the AUC and which bookings a threshold catches, unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Fewer validation bookings than this (or fewer than MIN_EACH of either outcome) and the model ships unscaled.
MIN_ROWS = 50
MIN_EACH = 5


@dataclass(frozen=True, slots=True)
class Platt:
    slope: float = 1.0
    offset: float = 0.0

    def log_odds(self, z: np.ndarray) -> np.ndarray:
        return self.slope * z + self.offset

    def apply(self, risks: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(log_odds(risks))))

    def as_json(self) -> dict:
        return {k: round(v, 6) for k, v in asdict(self).items()}


IDENTITY = Platt()


def log_odds(risks: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(risks, dtype=float), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def fit(risks: np.ndarray, labels: np.ndarray, *, iterations: int = 100) -> Platt | None:
    """Platt scaling of ``risks`` against ``labels`` (the validation rows), or None when there are too few rows of
    either outcome or the fitted slope is not positive (the scores would be reversed: something else is wrong)."""
    labels = np.asarray(labels, dtype=float)
    positives = float(labels.sum())
    negatives = float(len(labels) - positives)
    if len(labels) < MIN_ROWS or positives < MIN_EACH or negatives < MIN_EACH:
        return None
    z = log_odds(risks)
    target = np.where(labels == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    x = np.column_stack([z, np.ones_like(z)])

    def loss(w: np.ndarray) -> float:  # the cross-entropy against the smoothed targets
        u = x @ w
        return float(np.sum(np.logaddexp(0.0, u) - target * u))

    weights = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = 0.5 * (1.0 + np.tanh(0.5 * (x @ weights)))
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, x.T @ (target - p))
        current = loss(weights)
        while loss(weights + step) > current and np.max(np.abs(step)) > 1e-12:  # damped Newton: never uphill
            step = step / 2
        weights = weights + step
        if np.max(np.abs(step)) < 1e-10:
            break
    if not np.all(np.isfinite(weights)) or weights[0] <= 0:
        return None
    return Platt(float(weights[0]), float(weights[1]))
