"""Conditions, Coverage and the patient's district are read from the store when a booking is assessed and when
the clinic's model is trained; the trained model carries its window, validation figures, threshold and rates."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.fixtures.journeys import Clinic, at
from tests.fixtures.stores import TESTS

from fhircrm.noshow.assess import assess_appointment, band
from fhircrm.noshow.defaults import default_model
from fhircrm.noshow.ehr_facts import ACT_CODE, SNOMED
from fhircrm.noshow.model import NoShowModel
from fhircrm.noshow.training import describe, train
from fhircrm.stores import open_store


async def diabetic_on_welfare(clinic: Clinic) -> dict:
    patient = await clinic.patient(address=[{"use": "home", "district": "Centro"}])
    await clinic.write(
        {
            "resourceType": "Condition",
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "code": {"coding": [{"system": SNOMED, "code": "73211009"}]},
            "subject": {"reference": f"Patient/{patient['id']}"},
        }
    )
    await clinic.write(
        {
            "resourceType": "Coverage",
            "status": "active",
            "type": {"coding": [{"system": ACT_CODE, "code": "SUBSIDIZ"}]},
            "beneficiary": {"reference": f"Patient/{patient['id']}"},
            "payor": [{"display": "welfare"}],
        }
    )
    return patient


async def test_a_booking_is_assessed_with_the_patients_conditions_and_coverage(clinic: Clinic, tmp_path: Path) -> None:
    base = default_model()
    weights = dict(zip(base.features, base.coefficients, strict=True))
    weights.update(condition_diabetes=0.5, welfare_coverage=0.4)
    model = NoShowModel(tuple(weights), tuple(weights.values()), base.intercept, "conditions-test")
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model.to_json()))
    settings = clinic.settings.model_copy(update={"noshow_model_file": path})
    sick, well = await diabetic_on_welfare(clinic), await clinic.patient()
    risks, notes = {}, {}
    for patient in (sick, well):
        booked = await clinic.appointment(patient, start=at(20, 15), created=at(1, 9))
        async with clinic.engine.begin() as conn:
            assessment = await assess_appointment(
                open_store(conn, settings, policy=TESTS), booked, settings=settings, now=at(1, 9)
            )
        risks[patient["id"]] = assessment["prediction"][0]["probabilityDecimal"]
        notes[patient["id"]] = assessment["note"][0]["text"]
    assert risks[sick["id"]] > risks[well["id"]]
    assert "diabetes" in notes[sick["id"]] and "a welfare program" in notes[sick["id"]]
    assert "diabetes" not in notes[well["id"]]


async def test_training_stores_its_window_validation_threshold_and_district_rates(clinic: Clinic) -> None:
    for i in range(60):
        patient = await clinic.patient(address=[{"district": "North" if i % 3 else "South"}])
        start = at(1 + i % 28, 14) - timedelta(days=60)
        lead = 30 if i % 2 else 1
        status = "noshow" if (lead == 30 and i % 4 != 1) or i % 3 == 0 else "fulfilled"
        await clinic.appointment(patient, start=start, status=status, created=start - timedelta(days=lead))
    async with clinic.engine.connect() as conn:
        model, count = await train(open_store(conn, clinic.settings, policy=TESTS), now=at(1, 9), names=("logistic",))
    assert count == 60
    meta = model.meta
    assert meta["model"] == "logistic" and meta["training_window"]["appointments"] == 60
    assert set(meta["validation"]["auc"]) == {"logistic"}
    assert 0 < meta["call_threshold"]["risk"] < 1 and meta["call_threshold"]["catch_rate"] >= 0.5
    assert meta["rates"]["groups"]["district"]["SOUTH"] == [20, 20]
    assert meta["rates"]["overall"]["district"][1] == 60
    text = describe(model)
    assert "call threshold: risk >=" in text and "calls per day" in text and "validation AUC: logistic" in text
    cut = meta["call_threshold"]["risk"]
    assert band(cut, clinic.settings, model=model) == "high"
    assert band(cut - 0.001, clinic.settings, model=model) != "high"
