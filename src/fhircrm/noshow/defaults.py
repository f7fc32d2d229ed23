"""The shipped default model, written from literature priors so that it is reproducible and owes nothing to data
we may not redistribute (the Vitória benchmark is for evaluation only).

Directions and sizes follow the outpatient no-show literature (Dantas et al. 2018, Health Policy; Kheirkhah et al.
2016) and agree with the demo clinic's drivers (fhircrm.demo.noshow_drivers): lead time and earlier no-shows raise
the risk, young adults miss more than children and seniors, a confirmation and reminders lower it. Features the
literature gives no consistent sign for stay at 0 until ``fhircrm noshow train`` fits them on a clinic's own past.

Regenerate the JSON after changing a prior or a feature: ``python -m fhircrm.noshow.defaults``.
"""

from __future__ import annotations

import json
from pathlib import Path

from fhircrm.noshow.features import FEATURES
from fhircrm.noshow.model import DEFAULT_MODEL, NoShowModel

VERSION = "default-literature-3"
INTERCEPT = -2.3
PRIORS: dict[str, float] = {
    "log_lead_days": 0.42,
    "same_day": -0.4,
    "prior_noshows": 0.2,
    "any_prior_noshow": 0.2,
    "prior_cancellations": 0.1,
    "log_prior_visits": -0.1,
    "prior_noshow_rate": 0.6,
    "same_day_bookings": 0.15,
    "age_0_5": -0.15,
    "age_6_12": -0.15,
    "age_13_17": -0.15,
    "age_18_24": 0.45,
    "age_25_34": 0.3,
    "age_35_44": 0.15,
    "age_65_74": -0.3,
    "age_75_plus": -0.3,
    "weekday_monday": 0.05,
    "weekday_friday": 0.05,
    "hour_early": -0.05,
    "hour_late": 0.1,
    "first_visit": 0.2,
    "confirmed": -0.8,
    "reminders": -0.3,
    "log_distance_km": 0.1,
    "self_pay": 0.25,
    "service_cardiology": -0.1,
    "service_dermatology": 0.1,
    "service_pediatrics": -0.1,
    "service_physiotherapy": 0.1,
}


def default_model() -> NoShowModel:
    """Every feature, in FEATURES order, with its prior (0 where the literature is silent)."""
    unknown = set(PRIORS) - set(FEATURES)
    if unknown:
        raise ValueError(f"priors for features that do not exist: {sorted(unknown)}")
    return NoShowModel(FEATURES, tuple(PRIORS.get(name, 0.0) for name in FEATURES), INTERCEPT, VERSION)


def write(path: Path = Path(__file__).with_name(DEFAULT_MODEL)) -> Path:
    path.write_text(json.dumps(default_model().to_json(), indent=2) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
