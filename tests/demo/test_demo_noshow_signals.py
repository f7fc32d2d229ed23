"""The demo clinic's no-show outcomes carry the signals an EHR holds (issue 18): district, chronic conditions,
self-pay coverage; fhircrm's own features read them from the generated FHIR and a model fitted on them learns them."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import pytest

from fhircrm.demo import ClinicSpec, generate_clinic
from fhircrm.demo.noshow_drivers import DISTRICT_EFFECTS, NoShowFactors, noshow_logit
from fhircrm.noshow.dataset import build_dataset
from fhircrm.noshow.features import FEATURES
from fhircrm.noshow.model import fit

SPEC = ClinicSpec(patients=1200, today=dt.date(2025, 3, 10))


@pytest.fixture(scope="module")
def by_type() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for batch in generate_clinic(SPEC):
        for resource in batch:
            out[resource["resourceType"]].append(resource)
    return out


def test_the_drivers_move_the_risk_the_documented_way() -> None:
    base = NoShowFactors(lead_days=7, prior_noshows=0, age_years=40)
    chronic = NoShowFactors(lead_days=7, prior_noshows=0, age_years=40, chronic=True)
    paying = NoShowFactors(lead_days=7, prior_noshows=0, age_years=40, self_pay=True)
    riverside = NoShowFactors(lead_days=7, prior_noshows=0, age_years=40, district="Riverside")
    lakeshore = NoShowFactors(lead_days=7, prior_noshows=0, age_years=40, district="Lakeshore")
    assert noshow_logit(chronic) < noshow_logit(base) < noshow_logit(paying)
    assert noshow_logit(lakeshore) < noshow_logit(base) < noshow_logit(riverside)
    assert abs(sum(DISTRICT_EFFECTS.values()) / len(DISTRICT_EFFECTS)) < 0.05


def test_every_patient_lives_in_a_district_and_outcomes_differ_by_district(
    by_type: dict[str, list[dict[str, Any]]],
) -> None:
    district = {f"Patient/{p['id']}": p["address"][0]["district"] for p in by_type["Patient"]}
    assert set(district.values()) == set(DISTRICT_EFFECTS)
    missed, counted = Counter(), Counter()
    for appointment in by_type["Appointment"]:
        if appointment["status"] in ("noshow", "fulfilled"):
            refs = [p["actor"]["reference"] for p in appointment["participant"] if "actor" in p]
            where = district[next(r for r in refs if r.startswith("Patient/"))]
            counted[where] += 1
            missed[where] += appointment["status"] == "noshow"
    assert missed["Riverside"] / counted["Riverside"] > missed["Lakeshore"] / counted["Lakeshore"]


def test_a_model_fitted_on_the_demo_reads_district_and_self_pay_from_its_fhir(
    by_type: dict[str, list[dict[str, Any]]],
) -> None:
    patients = {f"Patient/{p['id']}": p for p in by_type["Patient"]}
    coverages: dict[str, list[dict]] = defaultdict(list)
    for coverage in by_type["Coverage"]:
        coverages[coverage["beneficiary"]["reference"]].append(coverage)
    conditions: dict[str, list[dict]] = defaultdict(list)
    for condition in by_type["Condition"]:
        conditions[condition["subject"]["reference"]].append(condition)
    data = build_dataset(
        by_type["Appointment"],
        patients,
        now=dt.datetime(2025, 3, 10, tzinfo=dt.UTC),
        conditions=conditions,
        coverages=coverages,
    )
    column = {name: i for i, name in enumerate(FEATURES)}
    assert data.matrix[:, column["self_pay"]].any() and data.matrix[:, column["condition_hypertension"]].any()
    assert data.matrix[:, column["district_rate"]].std() > 0
    coefficients = fit(data.matrix, data.labels).to_json()["coefficients"]
    assert coefficients["district_rate"] > 0 and coefficients["self_pay"] > 0
