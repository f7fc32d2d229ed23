"""The logistic no-show model moves in the directions the literature reports."""

from __future__ import annotations

import random

from fhircrm.demo.noshow_drivers import NoShowFactors, draw_noshow, noshow_probability


def p(**overrides: object) -> float:
    base: dict[str, object] = {"lead_days": 7.0, "prior_noshows": 0, "age_years": 50}
    base.update(overrides)
    return noshow_probability(NoShowFactors(**base))  # type: ignore[arg-type]


def test_longer_lead_time_raises_risk() -> None:
    risks = [p(lead_days=d) for d in (0, 1, 3, 14, 30, 60)]
    assert risks == sorted(risks) and risks[-1] > 2 * risks[0]


def test_prior_noshows_raise_risk_with_a_cap() -> None:
    risks = [p(prior_noshows=k) for k in range(6)]
    assert risks == sorted(risks) and risks[1] > 1.5 * risks[0]
    assert risks[3] == risks[5]


def test_age_reminders_and_walk_ins() -> None:
    assert p(age_years=24) > p(age_years=50) > p(age_years=75)
    assert p(age_years=24) > p(age_years=10)
    assert p(reminded=True) < p()
    assert p(walk_in=True) == 0.0
    assert p(personal_propensity=1.0) > p()


def test_draws_are_seeded() -> None:
    f = NoShowFactors(lead_days=30, prior_noshows=1, age_years=25)
    first = [draw_noshow(f, random.Random(3)) for _ in range(5)]
    assert first == [draw_noshow(f, random.Random(3)) for _ in range(5)]
    rng = random.Random(11)
    rate = sum(draw_noshow(f, rng) for _ in range(20_000)) / 20_000
    assert abs(rate - noshow_probability(f)) < 0.01
