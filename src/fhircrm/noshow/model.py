"""Logistic regression in numpy: fit (Newton's method with an L2 penalty), predict, explain, save as JSON.

Coefficients are stored on the raw feature scale, so a prediction is ``sigmoid(intercept + sum(coef * x))`` and a
factor's contribution to the log-odds is ``coef * x`` (every feature's reference level is 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from fhircrm.noshow.additive import AdditiveModel
from fhircrm.noshow.features import FEATURES
from fhircrm.noshow.reasons import top_of

DEFAULT_MODEL = "default_model.json"


@dataclass(frozen=True, slots=True)
class NoShowModel:
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    version: str = "default"
    #: Training window, validation and test metrics, the clinic's call threshold, district/practitioner rates.
    meta: dict = field(default_factory=dict, compare=False)
    kind = "logistic"

    def vector(self, values: dict[str, float]) -> np.ndarray:
        return np.array([values.get(name, 0.0) for name in self.features], dtype=float)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(matrix @ np.asarray(self.coefficients) + self.intercept)))

    def probability(self, values: dict[str, float]) -> float:
        return float(self.predict(self.vector(values)[None, :])[0])

    def contributions(self, values: dict[str, float]) -> dict[str, float]:
        """Each feature's log-odds contribution: with the intercept they sum to the score's log-odds."""
        return {n: c * values.get(n, 0.0) for n, c in zip(self.features, self.coefficients, strict=True)}

    def top_factors(self, values: dict[str, float], *, limit: int = 3) -> list[tuple[str, float]]:
        """The features that raised the risk most (positive log-odds contributions), largest first."""
        return top_of(self.contributions(values), limit)

    def scaled(self, slope: float, offset: float) -> NoShowModel:
        """The model whose log-odds are ``slope * z + offset`` (a calibration folded in): every coefficient times
        the slope, the intercept times the slope plus the offset; the metadata is kept (a copy)."""
        return NoShowModel(
            self.features,
            tuple(slope * c for c in self.coefficients),
            slope * self.intercept + offset,
            self.version,
            dict(self.meta),
        )

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "intercept": self.intercept,
            "coefficients": dict(zip(self.features, self.coefficients, strict=True)),
            **({"meta": self.meta} if self.meta else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> NoShowModel:
        coefficients = data["coefficients"]
        names = tuple(coefficients)
        return cls(
            names,
            tuple(float(coefficients[n]) for n in names),
            float(data["intercept"]),
            data.get("version", ""),
            data.get("meta", {}),
        )


def from_json(data: dict) -> NoShowModel:
    """A model file of either kind: logistic coefficients or an explainable boosting model's shape tables."""
    if data.get("kind") == "ebm":
        return AdditiveModel.from_json(data)  # type: ignore[return-value]
    return NoShowModel.from_json(data)


def load_model(path: Path | None = None) -> NoShowModel:
    """The model at ``path``, or the default that ships with fhircrm."""
    if path is not None and Path(path).exists():
        return from_json(json.loads(Path(path).read_text()))
    text = resources.files("fhircrm.noshow").joinpath(DEFAULT_MODEL).read_text()
    return from_json(json.loads(text))


def fit(
    matrix: np.ndarray,
    labels: np.ndarray,
    *,
    features: tuple[str, ...] = FEATURES,
    l2: float = 1.0,
    iterations: int = 50,
    version: str = "trained",
) -> NoShowModel:
    """Maximum-likelihood logistic regression with a ridge penalty on standardized features (Newton-Raphson)."""
    mean, scale = matrix.mean(axis=0), matrix.std(axis=0)
    scale[scale == 0] = 1.0
    x = np.hstack([np.ones((len(matrix), 1)), (matrix - mean) / scale])
    weights = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))
        gradient = x.T @ (labels - p) - penalty * weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights += step
        if np.max(np.abs(step)) < 1e-8:
            break
    coefficients = weights[1:] / scale
    intercept = float(weights[0] - np.sum(weights[1:] * mean / scale))
    return NoShowModel(features, tuple(float(c) for c in coefficients), intercept, version)
