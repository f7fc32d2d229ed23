"""The shippable models explain themselves exactly; session intervals are calibrated; the call threshold is the
cheapest cut that catches half the no-shows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fhircrm.noshow.features import FEATURES
from fhircrm.noshow.sessions import coverage, expected, interval, poisson_binomial
from fhircrm.noshow.threshold import choose


def synthetic(n: int = 3000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Rows over the real feature list: risk rises with lead time and the district rate, with a kink in age."""
    rng = np.random.default_rng(seed)
    matrix = np.zeros((n, len(FEATURES)))
    index = {name: i for i, name in enumerate(FEATURES)}
    matrix[:, index["log_lead_days"]] = np.log1p(rng.integers(0, 60, n))
    matrix[:, index["district_rate"]] = rng.normal(0, 0.05, n)
    matrix[:, index["years_old"]] = rng.integers(0, 90, n)
    matrix[:, index["condition_diabetes"]] = rng.random(n) < 0.1
    logit = (
        -2.0
        + 0.6 * matrix[:, index["log_lead_days"]]
        + 8 * matrix[:, index["district_rate"]]
        + 0.8 * ((matrix[:, index["years_old"]] > 17) & (matrix[:, index["years_old"]] < 30))
    )
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return matrix, labels


def values_of(row: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURES, row.tolist(), strict=True))


def test_logistic_contributions_and_intercept_sum_to_the_log_odds() -> None:
    from fhircrm.noshow.candidates import logistic

    matrix, labels = synthetic()
    model = logistic(matrix, labels, version="t").model
    for row in matrix[:50]:
        values = values_of(row)
        p = model.probability(values)
        assert abs(model.intercept + sum(model.contributions(values).values()) - np.log(p / (1 - p))) < 1e-9


def test_explainable_boosting_tables_score_like_interpret_and_their_terms_sum_to_the_log_odds() -> None:
    pytest.importorskip("interpret")
    from interpret.glassbox import ExplainableBoostingClassifier

    from fhircrm.noshow.additive import AdditiveModel, from_ebm
    from fhircrm.noshow.assess import factor_text
    from fhircrm.noshow.model import from_json

    matrix, labels = synthetic()
    ebm = ExplainableBoostingClassifier(
        feature_names=list(FEATURES),
        feature_types=["continuous"] * len(FEATURES),
        interactions=3,
        outer_bags=2,
        max_rounds=300,
        n_jobs=1,
        random_state=1,
    )
    ebm.fit(matrix, labels.astype(int))
    model = from_ebm(ebm, FEATURES, version="t")
    assert np.allclose(model.predict(matrix), ebm.predict_proba(matrix)[:, 1], atol=1e-9)
    assert any(len(t.features) == 2 for t in model.terms)  # pairwise terms exported too
    shipped = from_json(model.to_json())  # what the server loads from the model file
    assert isinstance(shipped, AdditiveModel)
    for row in matrix[:50]:
        values = values_of(row)
        p = shipped.probability(values)
        assert abs(shipped.intercept + sum(shipped.contributions(values).values()) - np.log(p / (1 - p))) < 1e-9
        for term, size in shipped.top_factors(values):
            assert size > 0 and "_" not in factor_text(term).replace("log_", "")  # named in words
    riskiest = values_of(matrix[np.argmax(model.predict(matrix))])
    assert shipped.top_factors(riskiest)


def test_the_exact_no_show_distribution_matches_enumeration() -> None:
    risks = [0.1, 0.5, 0.3, 0.8]
    brute = np.zeros(5)
    for outcome in itertools.product((0, 1), repeat=4):
        brute[sum(outcome)] += np.prod([p if o else 1 - p for p, o in zip(risks, outcome, strict=True)])
    assert np.allclose(poisson_binomial(risks), brute)
    session = expected([0.2] * 30)
    assert session.expected_noshows == pytest.approx(6.0)
    assert session.low <= 6 <= session.high and session.extra_bookings == session.low
    assert interval([0.0] * 5) == (0, 0) and interval([1.0] * 5) == (5, 5)


def test_ninety_percent_session_intervals_hold_the_observed_count_about_ninety_percent_of_the_time() -> None:
    rng = np.random.default_rng(17)
    sessions = []
    for _ in range(400):
        risks = rng.beta(2, 7, size=rng.integers(5, 60))
        sessions.append((risks.tolist(), int((rng.random(len(risks)) < risks).sum())))
    share, count = coverage(sessions)
    assert count == 400 and 0.85 <= share <= 0.99
    overconfident = [([p / 3 for p in risks], observed) for risks, observed in sessions]
    assert coverage(overconfident)[0] < 0.5  # a model that underrates the risk fails the same check


def test_the_call_threshold_is_the_cheapest_cut_catching_half_the_no_shows() -> None:
    day = datetime(2031, 3, 3, tzinfo=UTC)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    labels = np.array([1, 0, 0, 1, 0, 1, 0, 1], dtype=float)
    starts = [day, day, day, day, day + timedelta(days=1)] + [day + timedelta(days=1)] * 3
    cut = choose(labels, scores, starts)
    assert cut.risk == 0.6  # the 4 riskiest hold 2 of the 4 no-shows; 3 would catch only 1
    assert cut.catch_rate == 0.5 and cut.calls_per_day == 2.0 and cut.precision == 0.5 and cut.days == 2
