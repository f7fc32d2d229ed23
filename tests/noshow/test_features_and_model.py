"""No-show features use only what was known at booking; the model fits real signal; AUC is computed right."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from tests.fixtures import factories

from fhircrm.noshow.features import appointment_features
from fhircrm.noshow.history import History
from fhircrm.noshow.metrics import auc, calibration
from fhircrm.noshow.model import NoShowModel, fit, load_model


def appointment(start: str, created: str, status: str = "booked") -> dict:
    return factories.appointment(id="x", status=status, start=start, created=created)


def test_no_shows_after_the_booking_are_not_counted_as_prior_no_shows() -> None:
    history = History.of(
        [
            appointment("2031-01-05T10:00:00Z", "2031-01-01T10:00:00Z", "noshow"),
            appointment("2031-03-05T10:00:00Z", "2031-01-01T10:00:00Z", "noshow"),
        ]
    )
    booked = appointment("2031-04-01T10:00:00Z", created="2031-02-01T10:00:00Z")
    values = appointment_features(booked, patient=None, history=history, now=datetime(2031, 2, 1, tzinfo=UTC))
    assert values["prior_noshows"] == 1.0  # the March no-show happened after this booking was made


def test_the_prior_no_show_rate_and_days_since_last_use_only_appointments_before_the_booking() -> None:
    history = History.of(
        [
            appointment("2031-01-05T10:00:00Z", "2031-01-01T10:00:00Z", "noshow"),
            appointment("2031-01-20T10:00:00Z", "2031-01-10T10:00:00Z", "fulfilled"),
            appointment("2031-03-05T10:00:00Z", "2031-01-01T10:00:00Z", "noshow"),
        ]
    )
    booked = appointment("2031-04-01T10:00:00Z", created="2031-01-30T10:00:00Z")
    values = appointment_features(booked, patient=None, history=history, now=datetime(2031, 1, 30, tzinfo=UTC))
    assert values["prior_noshow_rate"] == (1 + 0.2) / (2 + 1) - 0.2  # one no-show in two outcomes known then
    assert abs(values["log_days_since_last"] - np.log1p(10)) < 1e-9  # from 20 January


def test_bookings_made_after_this_one_are_not_counted_as_open_or_same_day_bookings() -> None:
    def other(ident: str, start: str, created: str) -> dict:
        return {**appointment(start, created), "id": ident}

    history = History.of(
        [
            other("earlier-session", "2031-02-10T10:00:00Z", "2031-01-30T09:00:00Z"),
            other("later-session", "2031-02-11T10:00:00Z", "2031-01-30T15:00:00Z"),
            other("before", "2031-02-12T10:00:00Z", "2031-01-20T09:00:00Z"),
        ]
    )
    booked = appointment("2031-04-01T10:00:00Z", created="2031-01-30T10:00:00Z")
    values = appointment_features(booked, patient=None, history=history, now=datetime(2031, 1, 30, tzinfo=UTC))
    assert values["open_bookings"] == 2.0  # "earlier-session" and "before"; "later-session" was not made yet
    assert values["same_day_bookings"] == 1.0


def test_lead_time_is_measured_from_booking_to_start() -> None:
    booked = appointment("2031-01-31T10:00:00Z", created="2031-01-01T10:00:00Z")
    values = appointment_features(booked, patient=None, history=History(), now=datetime(2031, 1, 1, tzinfo=UTC))
    assert values["lead_15_30d"] == 1.0
    assert abs(values["log_lead_days"] - np.log1p(30)) < 1e-9


def test_auc_is_one_for_a_perfect_ranking_and_a_half_for_ties() -> None:
    labels = np.array([0, 0, 1, 1])
    assert auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


def test_fitting_recovers_a_strong_feature_and_ranks_held_out_cases() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(-1.0 + 2.0 * x[:, 0])))
    y = (rng.random(4000) < p).astype(float)
    model = fit(x[:3000], y[:3000], features=("strong", "noise"), l2=0.1)
    assert abs(model.coefficients[0] - 2.0) < 0.3 and abs(model.coefficients[1]) < 0.2
    assert auc(y[3000:], model.predict(x[3000:])) > 0.8
    deciles = calibration(y[3000:], model.predict(x[3000:]))
    assert deciles[-1][3] > deciles[0][3]


def test_the_shipped_default_model_covers_every_feature_and_round_trips_as_json() -> None:
    from fhircrm.noshow.defaults import default_model
    from fhircrm.noshow.features import FEATURES

    model = load_model()
    assert set(model.features) == set(FEATURES)
    assert NoShowModel.from_json(model.to_json()) == model
    assert model == default_model()  # the JSON is what `python -m fhircrm.noshow.defaults` writes


def test_features_of_a_hand_made_booking() -> None:
    patient = {"resourceType": "Patient", "gender": "male", "birthDate": "2021-06-01"}
    booked = appointment("2031-02-10T15:00:00Z", created="2031-02-10T08:30:00Z")  # a same-day visit, booked at 08:30
    values = appointment_features(booked, patient=patient, history=History(), now=datetime(2031, 2, 10, tzinfo=UTC))
    assert values["same_day"] == 1.0 and values["log_lead_days"] == 0.0
    ages = {n for n, v in values.items() if n.startswith("age_") and v}
    assert ages == {"age_6_12"} and values["same_day_x_child"] == 1.0 and values["male"] == 1.0
    assert {n for n, v in values.items() if n.startswith("booked_") and v} == {"booked_8_10"}


def test_a_booking_the_evening_before_is_a_one_day_lead_not_a_same_day_one() -> None:
    booked = appointment("2031-02-11T08:00:00Z", created="2031-02-10T19:00:00Z")
    values = appointment_features(booked, patient=None, history=History(), now=datetime(2031, 2, 10, tzinfo=UTC))
    assert values["same_day"] == 0.0 and values["lead_1_2d"] == 1.0
    assert values["age_unknown"] == 1.0
