"""Shuffling the outcomes of later visits changes no feature of a prediction made before them: not the patient's
history, not the district's or the practitioner's rate."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np

from fhircrm.noshow.dataset import build_dataset
from fhircrm.noshow.features import FEATURES

CUT = datetime(2031, 3, 1, tzinfo=UTC)


def clinic(seed: int = 3) -> tuple[list[dict], dict[str, dict]]:
    """600 visits over two months: 60 patients in 4 districts, 3 practitioners, outcomes at random."""
    rng = random.Random(seed)
    patients = {
        f"Patient/p{i}": {
            "resourceType": "Patient",
            "id": f"p{i}",
            "birthDate": f"{1950 + i % 60}-01-01",
            "address": [{"district": f"D{i % 4}"}],
        }
        for i in range(60)
    }
    appointments = []
    for i in range(600):
        start = datetime(2031, 1, 10, 9, tzinfo=UTC) + timedelta(days=rng.randrange(75), hours=rng.randrange(8))
        appointments.append(
            {
                "resourceType": "Appointment",
                "id": f"a{i}",
                "status": rng.choice(["noshow", "fulfilled", "fulfilled", "cancelled"]),
                "start": start.isoformat(),
                "created": (start - timedelta(days=rng.randrange(0, 30), hours=rng.randrange(10))).isoformat(),
                "participant": [
                    {"actor": {"reference": f"Patient/p{rng.randrange(60)}"}},
                    {"actor": {"reference": f"Practitioner/dr{rng.randrange(3)}"}},
                ],
            }
        )
    return appointments, patients


def features_by_id(appointments: list[dict], patients: dict[str, dict]) -> dict[str, np.ndarray]:
    data = build_dataset(appointments, patients, now=datetime(2031, 6, 1, tzinfo=UTC))
    return dict(zip(data.ids, data.matrix, strict=True))


def test_shuffling_later_outcomes_leaves_every_earlier_prediction_unchanged() -> None:
    appointments, patients = clinic()
    before = features_by_id(appointments, patients)
    rng = random.Random(11)
    # Outcomes of visits from the cut on, shuffled among themselves (the same visits keep a known outcome).
    later = [a for a in appointments if datetime.fromisoformat(a["start"]) >= CUT and a["status"] != "cancelled"]
    statuses = [a["status"] for a in later]
    rng.shuffle(statuses)
    shuffled = [{**a, "status": statuses[later.index(a)]} if a in later else a for a in appointments]
    after = features_by_id(shuffled, patients)
    earlier = [a["id"] for a in appointments if datetime.fromisoformat(a["created"]) < CUT and a["id"] in before]
    assert len(earlier) > 200
    for ident in earlier:  # predicted at booking, before the cut: the same, feature by feature
        assert np.array_equal(before[ident], after[ident]), ident
    # The test can see a change: bookings made well after the cut do see those outcomes.
    moved = [i for i in before if i in after and not np.array_equal(before[i], after[i])]
    assert moved
    columns = {FEATURES[j] for i in moved for j in np.flatnonzero(before[i] != after[i])}
    assert {"district_rate", "practitioner_rate"} <= columns


def test_a_district_rate_uses_earlier_days_only_and_is_shrunk_towards_the_overall_rate() -> None:
    from fhircrm.noshow.ehr_facts import SHRINK, RollingRates

    day = datetime(2031, 2, 1, 10, tzinfo=UTC)
    rates = RollingRates.of(
        [("district", "A", day, 1), ("district", "A", day, 1), ("district", "B", day, 0), ("district", "B", day, 0)]
        + [("district", "A", day + timedelta(days=1), 0)] * 50
    )
    assert rates.excess("district", "A", day + timedelta(hours=5)) == 0.0  # the same day: nothing known yet
    overall = 0.5
    expected = (2 + SHRINK * overall) / (2 + SHRINK) - overall
    assert abs(rates.excess("district", "A", day + timedelta(days=1)) - expected) < 1e-12
    assert 0 < rates.excess("district", "A", day + timedelta(days=1)) < 0.5
    assert rates.excess("district", None, day + timedelta(days=3)) == 0.0
