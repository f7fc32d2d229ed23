"""`fhircrm noshow train/evaluate` learn from the store's past Appointments and judge on later ones."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.journeys import Clinic, at
from tests.fixtures.stores import TESTS

from fhircrm.noshow.training import evaluate, train
from fhircrm.stores import open_store


async def seed_history(clinic: Clinic) -> None:
    """Forty past visits: those booked a month ahead were missed, those booked the day before were kept."""
    for i in range(40):
        patient = await clinic.patient()
        start = at(1 + i % 28, 14) - timedelta(days=60)
        lead = 30 if i % 2 else 1
        status = "noshow" if lead == 30 and i % 4 != 1 else "fulfilled"
        await clinic.appointment(patient, start=start, status=status, created=start - timedelta(days=lead))


async def test_training_on_past_appointments_learns_that_long_lead_times_miss_more(clinic: Clinic) -> None:
    await seed_history(clinic)
    async with clinic.engine.connect() as conn:
        model, count = await train(open_store(conn, clinic.settings, policy=TESTS), now=at(1, 9))
    assert count == 40
    coefficients = model.to_json()["coefficients"]
    assert coefficients["log_lead_days"] + coefficients["lead_15_30d"] > 0


async def test_evaluation_reports_auc_calibration_and_band_rates_on_later_appointments(clinic: Clinic) -> None:
    await seed_history(clinic)
    async with clinic.engine.connect() as conn:
        text = await evaluate(open_store(conn, clinic.settings, policy=TESTS), settings=clinic.settings, now=at(1, 9))
    assert "AUC" in text and "calibration by decile" in text and "risk band" in text
    assert "appointments: 8 " in text  # the latest 20% are held out
