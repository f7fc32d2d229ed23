"""Prior outcomes and other bookings are counted only as they were known at the prediction instant."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.fixtures import factories

from fhircrm.noshow.features import appointment_features
from fhircrm.noshow.history import History


def appointment(ident: str, start: str, created: str, status: str = "booked") -> dict:
    return factories.appointment(id=ident, status=status, start=start, created=created)


def features(booked: dict, history: History, **kwargs: object) -> dict[str, float]:
    return appointment_features(booked, patient=None, history=history, now=datetime(2031, 1, 1, tzinfo=UTC), **kwargs)


def test_an_outcome_earlier_the_same_day_as_the_booking_is_not_a_prior_outcome() -> None:
    history = History.of([appointment("morning", "2031-02-10T08:00:00Z", "2031-01-01T09:00:00Z", "noshow")])
    booked = appointment("x", "2031-03-01T10:00:00Z", created="2031-02-10T17:00:00Z")  # booked that afternoon
    values = features(booked, history)
    assert values["prior_noshows"] == 0.0 and values["prior_noshow_rate"] == 0.0
    assert values["log_days_since_last"] == 0.0
    assert values["log_prior_bookings"] > 0  # the booking itself was known: only its outcome was not


def test_an_outcome_counts_from_the_next_day() -> None:
    history = History.of([appointment("before", "2031-02-09T20:00:00Z", "2031-01-01T09:00:00Z", "noshow")])
    booked = appointment("x", "2031-03-01T10:00:00Z", created="2031-02-10T07:00:00Z")
    assert features(booked, history)["prior_noshows"] == 1.0


def test_a_later_prediction_instant_sees_more_history_but_never_the_visit_day_or_after() -> None:
    history = History.of(
        [
            appointment("between", "2031-02-20T10:00:00Z", "2031-01-01T09:00:00Z", "noshow"),
            appointment("same-day", "2031-03-01T08:00:00Z", "2031-01-01T09:00:00Z", "noshow"),
            appointment("after", "2031-03-05T10:00:00Z", "2031-01-01T09:00:00Z", "noshow"),
        ]
    )
    booked = appointment("x", "2031-03-01T10:00:00Z", created="2031-02-10T07:00:00Z")
    assert features(booked, history)["prior_noshows"] == 0.0  # at booking: all three lie ahead
    day_before = datetime(2031, 2, 28, 23, 59, tzinfo=UTC)
    assert features(booked, history, at=day_before)["prior_noshows"] == 1.0  # only "between"
    late = datetime(2031, 3, 9, tzinfo=UTC)  # an instant after the start is held at the start
    assert features(booked, history, at=late)["prior_noshows"] == 1.0


def test_bookings_of_the_same_visit_day_count_only_when_made_by_the_instant() -> None:
    history = History.of(
        [
            appointment("lab", "2031-03-01T08:00:00Z", "2031-02-10T06:00:00Z"),
            appointment("booked-later", "2031-03-01T15:00:00Z", "2031-02-15T06:00:00Z"),
            appointment("other-day", "2031-03-02T08:00:00Z", "2031-02-10T06:00:00Z"),
        ]
    )
    booked = appointment("x", "2031-03-01T10:00:00Z", created="2031-02-10T07:00:00Z")
    values = features(booked, history)
    assert values["same_visit_day"] == 1.0  # "lab"; "booked-later" did not exist yet
    assert values["same_day_bookings"] == 2.0 and values["open_bookings"] == 2.0
