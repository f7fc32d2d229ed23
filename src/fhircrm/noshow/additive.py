"""An explainable boosting model (a GAM with a few pairwise terms) as plain tables, scored in numpy.

interpret-core's ExplainableBoostingClassifier learns, for each term (one feature or a pair), cut points and a
log-odds score per bin. Exported here, the server scores without interpret installed: a prediction is
``sigmoid(intercept + sum of the term scores of the bins the values fall in)``, so each term's score is exactly
its contribution, and the top factors are named from them. Bins follow interpret's rule: a value equal to a cut
goes to the upper bin; bin 0 is "missing" (never used: features are never missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fhircrm.noshow.reasons import top_of


@dataclass(frozen=True, slots=True)
class Term:
    features: tuple[str, ...]
    cuts: tuple[np.ndarray, ...]  # per feature
    scores: np.ndarray  # one axis per feature: bins = len(cuts) + 2 (missing, ..., unknown)

    @property
    def name(self) -> str:
        return " x ".join(self.features)

    def score(self, columns: list[np.ndarray]) -> np.ndarray:
        index = tuple(np.searchsorted(c, x, side="right") + 1 for c, x in zip(self.cuts, columns, strict=True))
        return self.scores[index]


@dataclass(frozen=True, slots=True)
class AdditiveModel:
    features: tuple[str, ...]
    terms: tuple[Term, ...]
    intercept: float
    version: str = "ebm"
    meta: dict = field(default_factory=dict, compare=False)
    kind = "ebm"

    def vector(self, values: dict[str, float]) -> np.ndarray:
        return np.array([values.get(name, 0.0) for name in self.features], dtype=float)

    def term_scores(self, matrix: np.ndarray) -> np.ndarray:
        """(rows, terms): each term's log-odds contribution to each row."""
        index = {n: i for i, n in enumerate(self.features)}
        return np.column_stack(
            [t.score([matrix[:, index[f]] for f in t.features]) for t in self.terms] or [np.zeros(len(matrix))]
        )

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.term_scores(matrix).sum(axis=1) + self.intercept)))

    def probability(self, values: dict[str, float]) -> float:
        return float(self.predict(self.vector(values)[None, :])[0])

    def contributions(self, values: dict[str, float]) -> dict[str, float]:
        """Each term's log-odds contribution: with the intercept they sum to the score's log-odds."""
        row = self.term_scores(self.vector(values)[None, :])[0]
        return {t.name: float(s) for t, s in zip(self.terms, row, strict=True)}

    def top_factors(self, values: dict[str, float], *, limit: int = 3) -> list[tuple[str, float]]:
        return top_of(self.contributions(values), limit)

    def scaled(self, slope: float, offset: float) -> AdditiveModel:
        """The model whose log-odds are ``slope * z + offset``: every term's table times the slope, the intercept
        times the slope plus the offset; the metadata is kept (a copy)."""
        terms = tuple(Term(t.features, t.cuts, slope * t.scores) for t in self.terms)
        return AdditiveModel(self.features, terms, slope * self.intercept + offset, self.version, dict(self.meta))

    def to_json(self) -> dict:
        return {
            "kind": "ebm",
            "version": self.version,
            "intercept": self.intercept,
            "features": list(self.features),
            "terms": [
                {"features": list(t.features), "cuts": [c.tolist() for c in t.cuts], "scores": t.scores.tolist()}
                for t in self.terms
            ],
            **({"meta": self.meta} if self.meta else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> AdditiveModel:
        terms = tuple(
            Term(
                tuple(t["features"]),
                tuple(np.asarray(c, dtype=float) for c in t["cuts"]),
                np.asarray(t["scores"], dtype=float),
            )
            for t in data["terms"]
        )
        return cls(
            tuple(data["features"]), terms, float(data["intercept"]), data.get("version", ""), data.get("meta", {})
        )


def from_ebm(ebm: object, features: tuple[str, ...], *, version: str) -> AdditiveModel:
    """Tables from a fitted ExplainableBoostingClassifier whose features were all declared continuous."""
    terms = []
    for feature_indexes, scores in zip(ebm.term_features_, ebm.term_scores_, strict=True):  # type: ignore[attr-defined]
        level = len(feature_indexes)
        cuts = tuple(
            np.asarray(ebm.bins_[i][min(len(ebm.bins_[i]), level) - 1], dtype=float)  # type: ignore[attr-defined]
            for i in feature_indexes
        )
        terms.append(Term(tuple(features[i] for i in feature_indexes), cuts, np.asarray(scores, dtype=float)))
    intercept = float(np.atleast_1d(ebm.intercept_)[0])  # type: ignore[attr-defined]
    return AdditiveModel(features, tuple(terms), intercept, version)
