"""The shipped model is recalibrated (Platt scaling of its log-odds) on the validation weeks inside the training
window only: its explanations still sum to the calibrated log-odds, later outcomes cannot move it, and the trained
model file carries it and scores with it after a reload."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from tests.fixtures.journeys import Clinic, at
from tests.fixtures.stores import TESTS
from tests.noshow.test_models_and_sessions import synthetic, values_of

from fhircrm.clock import parse_fhir_datetime
from fhircrm.fhir.store import Operation
from fhircrm.noshow import calibration
from fhircrm.noshow.assess import band
from fhircrm.noshow.candidates import logistic
from fhircrm.noshow.metrics import auc
from fhircrm.noshow.model import NoShowModel, from_json
from fhircrm.noshow.training import describe, train
from fhircrm.stores import open_store

NOW = at(1, 9)


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_calibrated_contributions_and_intercept_sum_to_the_calibrated_log_odds() -> None:
    matrix, labels = synthetic()
    model = logistic(matrix[:2000], labels[:2000], version="t").model
    fitted = calibration.fit(model.predict(matrix[2000:]), labels[2000:])
    assert fitted is not None
    shrunk = calibration.Platt(0.7, -0.2)  # a visible change, whatever the synthetic fit found
    for platt in (fitted, shrunk):
        scaled = model.scaled(platt.slope, platt.offset)
        for row in matrix[:50]:
            values = values_of(row)
            p = scaled.probability(values)
            assert abs(logit(p) - (platt.slope * logit(model.probability(values)) + platt.offset)) < 1e-9
            assert abs(scaled.intercept + sum(scaled.contributions(values).values()) - logit(p)) < 1e-9
        assert auc(labels, scaled.predict(matrix)) == auc(labels, model.predict(matrix))  # monotone: same ranking
        assert np.allclose(platt.apply(model.predict(matrix)), scaled.predict(matrix))


def test_the_explainable_boosting_tables_scale_the_same_way() -> None:
    pytest.importorskip("interpret")
    from fhircrm.noshow.candidates import ebm

    matrix, labels = synthetic(n=1500)
    model = ebm(matrix, labels, version="t").model
    scaled = from_json(model.scaled(0.8, 0.1).to_json())
    for row in matrix[:20]:
        values = values_of(row)
        p = scaled.probability(values)
        assert abs(logit(p) - (0.8 * logit(model.probability(values)) + 0.1)) < 1e-9
        assert abs(scaled.intercept + sum(scaled.contributions(values).values()) - logit(p)) < 1e-9


def test_platt_scaling_corrects_overconfident_risks_and_refuses_tiny_or_reversed_splits() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(-1.3, 1.0, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(float)
    overconfident = 1 / (1 + np.exp(-(2 * z + 0.5)))  # twice the true log-odds, shifted up
    fitted = calibration.fit(overconfident, labels)
    assert fitted is not None
    assert fitted.slope == pytest.approx(0.5, abs=0.05) and fitted.offset == pytest.approx(-0.25, abs=0.1)
    assert calibration.fit(overconfident[:40], labels[:40]) is None  # below MIN_ROWS
    assert calibration.fit(1 - overconfident, labels) is None  # reversed scores: not a calibration problem


async def seed(clinic: Clinic, *, later_status: str) -> list[dict]:
    """300 past visits (the latest 60 are the validation split) and 40 later ones (after NOW, with an outcome
    recorded anyway: what a later test week would hold). Long lead times miss more."""
    patients = [await clinic.patient(address=[{"district": "North" if i % 3 else "South"}]) for i in range(30)]
    rng = np.random.default_rng(11)
    operations = []
    for i in range(340):
        later = i >= 300
        start = (NOW + timedelta(days=1 + i % 20, hours=i % 7)) if later else (NOW - timedelta(days=90, hours=-6 * i))
        lead = int(rng.choice([1, 3, 10, 30]))
        missed = rng.random() < {1: 0.05, 3: 0.15, 10: 0.3, 30: 0.6}[lead]
        status = later_status if later else ("noshow" if missed else "fulfilled")
        body = {
            "resourceType": "Appointment",
            "status": status,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "created": (start - timedelta(days=lead)).isoformat(),
            "participant": [{"actor": {"reference": f"Patient/{patients[i % 30]['id']}"}, "status": "accepted"}],
        }
        operations.append(Operation("POST", "Appointment", resource=body))
    async with clinic.engine.begin() as conn:
        await open_store(conn, clinic.settings, policy=TESTS).apply(operations)
    async with clinic.engine.connect() as conn:
        found = await open_store(conn, clinic.settings, policy=TESTS).search("Appointment", [("_count", "500")])
    return found.matches


async def trained(clinic: Clinic) -> tuple[NoShowModel, int]:
    async with clinic.engine.connect() as conn:
        return await train(open_store(conn, clinic.settings, policy=TESTS), now=NOW, names=("logistic",))


async def test_training_fits_the_calibration_on_the_validation_weeks_only_and_stores_it(clinic: Clinic) -> None:
    appointments = await seed(clinic, later_status="noshow")
    model, count = await trained(clinic)
    assert count == 300
    fitted = model.meta["calibration"]
    assert fitted["method"] == "platt" and fitted["slope"] > 0
    assert fitted["fitted_on"] == model.meta["validation"]["window"] and fitted["fitted_on"]["appointments"] == 60
    assert "calibration: Platt" in describe(model)

    # Later weeks' outcomes (every later visit kept instead of missed) leave the model and its calibration alone.
    for appointment in appointments:
        if parse_fhir_datetime(appointment["start"]) > NOW:
            await clinic.write({**appointment, "status": "fulfilled"})
    again, _ = await trained(clinic)
    assert again.meta["calibration"] == fitted and again.to_json()["coefficients"] == model.to_json()["coefficients"]

    # The validation weeks' outcomes do move it: it is learned from them.
    past = [a for a in appointments if parse_fhir_datetime(a["start"]) < NOW]
    validation = sorted(past, key=lambda a: parse_fhir_datetime(a["start"]))[-60:]
    for appointment in validation[::2]:
        flipped = "fulfilled" if appointment["status"] == "noshow" else "noshow"
        await clinic.write({**appointment, "status": flipped})
    moved, _ = await trained(clinic)
    assert (moved.meta["calibration"]["slope"], moved.meta["calibration"]["offset"]) != (
        fitted["slope"],
        fitted["offset"],
    )

    # The model file carries the calibration folded into its parameters: a reload scores the same, calibrated.
    reloaded = from_json(json.loads(json.dumps(model.to_json())))
    assert reloaded.meta["calibration"] == fitted
    values = {"log_lead_days": float(np.log1p(30)), "lead_15_30d": 1.0}
    assert reloaded.probability(values) == pytest.approx(model.probability(values), abs=1e-12)
    assert abs(reloaded.intercept + sum(reloaded.contributions(values).values()) - logit(model.probability(values))) < (
        1e-9
    )
    cut = model.meta["call_threshold"]["risk"]  # chosen on the calibrated scores
    assert band(cut, clinic.settings, model=reloaded) == "high"
