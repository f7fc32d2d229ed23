"""The models compared for a clinic, each fitted on the same feature matrix, chosen on a validation split.

- ``logistic``: ridge logistic regression (model.py), contributions coef * x;
- ``ebm``: interpret-core's explainable boosting (a GAM with a few pairwise terms), exported to additive.py,
  contributions exact by construction;
- ``lightgbm``: gradient boosting with per-prediction contributions (TreeSHAP, ``pred_contrib``); compared in the
  benchmark only: shipping it would put LightGBM in the server, and it does not beat the EBM here (see README).

All run on one or two threads: the machine is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fhircrm.noshow.features import FEATURES
from fhircrm.noshow.model import fit

#: Explainable boosting settings: few outer bags and pairwise terms keep a fit to a minute or two on 2 cores.
EBM_SETTINGS = {"interactions": 5, "outer_bags": 4, "max_rounds": 2000, "learning_rate": 0.02, "n_jobs": 2}


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    predict: Callable[[np.ndarray], np.ndarray]
    model: object  # what gets shipped (NoShowModel or AdditiveModel); None for the benchmark-only LightGBM


def logistic(matrix: np.ndarray, labels: np.ndarray, *, version: str, l2: float = 1.0) -> Candidate:
    model = fit(matrix, labels, features=FEATURES, l2=l2, version=version)
    return Candidate("logistic", model.predict, model)


def ebm(matrix: np.ndarray, labels: np.ndarray, *, version: str, seed: int = 0) -> Candidate:
    from interpret.glassbox import ExplainableBoostingClassifier

    from fhircrm.noshow.additive import from_ebm

    classifier = ExplainableBoostingClassifier(
        feature_names=list(FEATURES), feature_types=["continuous"] * len(FEATURES), random_state=seed, **EBM_SETTINGS
    )
    classifier.fit(matrix, labels.astype(int))
    model = from_ebm(classifier, FEATURES, version=version)
    return Candidate("ebm", model.predict, model)


def lightgbm(matrix: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> Candidate:
    """Gradient boosting, shallow and slow-learning; ``contributions`` gives TreeSHAP values per prediction."""
    import lightgbm as lgb

    booster = lgb.train(
        {
            "objective": "binary",
            "learning_rate": 0.03,
            "num_leaves": 15,
            "min_data_in_leaf": 200,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 10.0,
            "num_threads": 2,
            "seed": seed,
            "verbose": -1,
        },
        lgb.Dataset(matrix, labels, feature_name=[f.replace("-", "_") for f in FEATURES]),
        num_boost_round=400,
    )
    return Candidate("lightgbm", booster.predict, booster)


def lightgbm_contributions(booster: object, matrix: np.ndarray) -> np.ndarray:
    """(rows, features + 1): log-odds contributions and the expected value; each row sums to the log-odds."""
    return booster.predict(matrix, pred_contrib=True)  # type: ignore[attr-defined]
