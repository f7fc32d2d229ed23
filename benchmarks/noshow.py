"""No-show model on real data: the public Vitória 2016 appointments (Kaggle "Medical Appointment No Shows").

Converts each CSV row into a FHIR Patient and Appointment (in memory; the data is never copied into the repo),
computes features with fhircrm's own feature code (earlier no-shows only from appointments before the booking),
fits on the earlier weeks and reports AUC, calibration and band rates on the later weeks.

    .venv/bin/python benchmarks/noshow.py ../shared/data/noshow/appointments-2016-04-29_to_2016-05-31.csv

Measured 2026-11-27 (train: appointment days before 2016-05-20, 63,537 rows; test: the 20,539 later rows, 20.1%
no-shows; see benchmarks/README.md for the full tables):

- at booking (the default, what ``assess`` does): AUC 0.743; top decile 0.450 predicted, 0.412 observed; band
  rates low 0.037, medium 0.229, high 0.359;
- ``--predict-at day-before`` (the history known at the end of the day before the visit): AUC 0.745.

The earlier 0.737 counted, for a booking made in the afternoon, the outcome of a visit earlier the same day
(the CSV has no time of day, so every visit was placed at 11:00 UTC): History now counts an outcome only from
the next day. Choices were made with ``--validate 2016-05-13`` (fit before 13 May, judged on 13-19 May: 0.733
at booking), never on the test weeks; the ridge penalty (0.1 to 100) changes nothing there.

Why not 0.75: outside the project, scikit-learn's HistGradientBoostingClassifier on the same history features
plus the columns this mapping leaves out (Neighbourhood as a target encoding fitted on the training weeks,
Scholarship, chronic conditions, Handcap) reached 0.741-0.745, and regularized logistic regression with them
0.745 (booking) and 0.748 (day before). Lead time and age alone give 0.726 on the validation days; the data
covers one month, so a patient's history is short. Published figures above 0.75 on this data count outcomes of
appointments on or after the one being scored (whole-data-set no-show counts, or cumulative counts in
AppointmentID order): that leaks the future.
"""

from __future__ import annotations

import argparse
import csv
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fhircrm.config import Settings
from fhircrm.noshow.assess import band
from fhircrm.noshow.dataset import REMINDER_COUNT_EXTENSION, build_dataset
from fhircrm.noshow.metrics import report
from fhircrm.noshow.model import fit


def to_fhir(row: dict) -> tuple[dict, dict]:
    """A CSV row as a Patient and an Appointment (start at 08:00 local: the data has no time of day)."""
    patient_id = f"p{row['PatientId'].split('.')[0]}"
    day = row["AppointmentDay"][:10]
    age = max(int(row["Age"]), 0)
    patient = {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": {"F": "female", "M": "male"}.get(row["Gender"], "unknown"),
        "birthDate": str(int(day[:4]) - age),
    }
    appointment = {
        "resourceType": "Appointment",
        "id": f"a{row['AppointmentID']}",
        "status": "noshow" if row["No-show"] == "Yes" else "fulfilled",
        "created": row["ScheduledDay"],
        "start": f"{day}T11:00:00Z",
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
        "extension": [{"url": REMINDER_COUNT_EXTENSION, "valueInteger": int(row["SMS_received"])}],
    }
    return patient, appointment


def day_before(appointment: dict) -> datetime:
    """The end of the day before the visit (the data has no time of day: outcomes of that day are unknown)."""
    return datetime.fromisoformat(appointment["start"]).replace(hour=0, minute=0, second=0) - timedelta(seconds=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--cutoff", default="2016-05-20", help="train before this appointment day, test from it")
    parser.add_argument("--no-reminders", action="store_true", help="leave SMS_received out of the features")
    parser.add_argument(
        "--predict-at",
        choices=("booking", "day-before"),
        default="booking",
        help="the prediction instant: the booking, or the end of the day before the visit (history known then)",
    )
    parser.add_argument("--l2", type=float, default=1.0, help="ridge penalty on standardized features")
    parser.add_argument(
        "--validate",
        metavar="DAY",
        help="choose on the training weeks: fit before DAY, report on DAY..cutoff (never looks at the test weeks)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    patients, appointments = {}, []
    with args.csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            patient, appointment = to_fhir(row)
            patients[f"Patient/{patient['id']}"] = patient
            appointments.append(appointment)
    # "confirmed" is not in the data: every participant status is the same, so the feature is constant.
    for a in appointments:
        a["participant"][0]["status"] = "needs-action"
    data = build_dataset(
        appointments,
        patients,
        now=datetime.now(UTC),
        use_reminders=not args.no_reminders,
        predict_at=day_before if args.predict_at == "day-before" else lambda _a: None,
    )
    cutoff = datetime.fromisoformat(args.cutoff).replace(tzinfo=UTC)
    train, test = data.split(cutoff)
    if args.validate:
        train, test = train.split(datetime.fromisoformat(args.validate).replace(tzinfo=UTC))
    model = fit(train.matrix, train.labels, l2=args.l2, version=f"vitoria-before-{args.cutoff}")
    scores = model.predict(test.matrix)
    settings = Settings()
    bands = [band(float(p), settings) for p in scores]
    print(f"rows: {len(appointments)}  train (before {args.cutoff}): {len(train.labels)}  test: {len(test.labels)}")
    print(report(test.labels, scores, bands))
    top = sorted(model.to_json()["coefficients"].items(), key=lambda kv: -abs(kv[1]))[:8]
    print("largest coefficients: " + ", ".join(f"{k} {v:+.2f}" for k, v in top))
    print(f"elapsed: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
