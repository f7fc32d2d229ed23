"""No-show models on real data: the public Vitória 2016 appointments (Kaggle "Medical Appointment No Shows").

Maps every CSV column to the FHIR an EHR holds (fhircrm.noshow.vitoria: Patient with address.district,
Appointment, Conditions with SNOMED CT codes, a welfare Coverage, reminder Communications; in memory, the data is
never copied into the repo), computes features with fhircrm's own feature code (outcomes only from days before
the prediction instant, district rates only from earlier days), and for each prediction instant:

1. compares the candidate models on a validation split inside the training weeks (fit before ``--validate``,
   judged on ``--validate``..``--cutoff``), picks the one to ship as ``fhircrm noshow train`` does, and chooses
   the call threshold on that validation curve;
2. refits every candidate on all training weeks and reports, on the later test weeks: AUC, calibration by decile
   (and its largest gap), no-show rate by band;
3. for the shipped model: the Platt recalibration ``fhircrm noshow train`` folds in, fitted on the validation
   weeks only (the out-of-sample scores of the model fitted before them), with calibration by decile before and
   after on the validation and the test weeks; the call threshold's catch rate and calls per day on the test weeks
   (chosen on calibrated validation risks), and the expected no-shows per session (neighbourhood x day) with their
   90% interval, and how often the observed count fell in it, before and after the recalibration.

    .venv/bin/python benchmarks/noshow.py ../shared/data/noshow/appointments-2016-04-29_to_2016-05-31.csv
    .venv/bin/python benchmarks/noshow.py CSV --predict-at day-before
    .venv/bin/python benchmarks/noshow.py CSV --models logistic --drop district_rate,condition_,welfare  # ablation

Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from fhircrm.config import Settings
from fhircrm.noshow.assess import band
from fhircrm.noshow.calibration import Platt
from fhircrm.noshow.candidates import lightgbm_contributions
from fhircrm.noshow.dataset import Dataset, build_dataset, outcome_rates
from fhircrm.noshow.ehr_facts import district
from fhircrm.noshow.features import FEATURES
from fhircrm.noshow.metrics import auc, calibration, report
from fhircrm.noshow.sessions import coverage, expected
from fhircrm.noshow.threshold import judge
from fhircrm.noshow.training import calibrate, calibration_gap, call_threshold, fit_candidate, select, window
from fhircrm.noshow.vitoria import Clinic, to_fhir


def day_before(appointment: dict) -> datetime:
    """The end of the day before the visit (the data has no time of day: outcomes of that day are unknown)."""
    return datetime.fromisoformat(appointment["start"]).replace(hour=0, minute=0, second=0) - timedelta(seconds=1)


def load(path: Path) -> Clinic:
    clinic = Clinic()
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            clinic.add(to_fhir(row))
    return clinic


def drop(data: Dataset, prefixes: list[str]) -> None:
    """Zero the named features (an ablation: the models then cannot use them)."""
    for i, name in enumerate(FEATURES):
        if any(name.startswith(p) for p in prefixes):
            data.matrix[:, i] = 0.0


def sessions(clinic: Clinic, test: Dataset, scores: np.ndarray) -> list[tuple[list[float], int]]:
    """Neighbourhood x day sessions of the test weeks: each one's risks and observed no-shows."""
    district_of = {
        a["id"]: district(clinic.patients.get(a["participant"][0]["actor"]["reference"])) for a in clinic.appointments
    }
    grouped: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for ident, start, score, outcome in zip(test.ids, test.starts, scores, test.labels, strict=True):
        grouped[(district_of.get(ident), start.date())].append((float(score), float(outcome)))
    return [([s for s, _ in rows], int(sum(o for _, o in rows))) for rows in grouped.values()]


def deciles(title: str, labels: np.ndarray, before: np.ndarray, fitted: dict) -> str:
    """Calibration by decile before and after the recalibration (deciles of the same ranking: it is monotone)."""
    after = Platt(fitted["slope"], fitted["offset"]).apply(before)
    lines = [f"{title}: decile, n, observed, predicted before -> after"]
    for (d, n, p, o), (_, _, q, _) in zip(calibration(labels, before), calibration(labels, after), strict=True):
        lines.append(f"  {d:>2} {n:>6} {o:.3f}  {p:.3f} -> {q:.3f}")
    lines.append(
        f"  largest gap {calibration_gap(labels, before):.3f} -> {calibration_gap(labels, after):.3f}; "
        f"AUC {auc(labels, before):.4f} -> {auc(labels, after):.4f}"
    )
    return "\n".join(lines)


def run(clinic: Clinic, args: argparse.Namespace, instant: str) -> None:
    started = time.perf_counter()
    data = build_dataset(
        clinic.appointments,
        clinic.patients,
        now=datetime.now(UTC),
        use_reminders=not args.no_reminders,
        predict_at=day_before if instant == "day-before" else lambda _a: None,
        conditions=clinic.conditions,
        coverages=clinic.coverages,
        communications=clinic.communications,
    )
    if args.drop:
        drop(data, args.drop.split(","))
    train, test = data.split(datetime.fromisoformat(args.cutoff).replace(tzinfo=UTC))
    fitting, validation = train.split(datetime.fromisoformat(args.validate).replace(tzinfo=UTC))
    print(f"\n#### predict at {instant}: features built in {time.perf_counter() - started:.0f} s")
    print(
        f"train (before {args.cutoff}): {len(train.labels)} = fitting {len(fitting.labels)} + validation "
        f"(from {args.validate}) {len(validation.labels)}; test: {len(test.labels)}"
    )
    names = tuple(args.models.split(","))
    clock = time.perf_counter()
    selection = select(fitting, validation, names, version="validation")
    print(f"validation AUC ({time.perf_counter() - clock:.0f} s for the fits):")
    for name, value in selection.validation.items():
        gap = calibration_gap(validation.labels, selection.scores[name])
        print(f"  {name:<9} {value:.4f}  largest calibration gap {gap:.3f}")
    print(f"shipped: {selection.shipped}")
    print(
        f"no-show rate: fitting {fitting.labels.mean():.4f}, validation {validation.labels.mean():.4f}, "
        f"test {test.labels.mean():.4f}"
    )
    settings = Settings()
    shipped_scores = None
    for name in names:
        clock = time.perf_counter()
        candidate = fit_candidate(name, train, version=f"vitoria-before-{args.cutoff}")
        scores = candidate.predict(test.matrix)
        print(f"\n== {name}, refit on all training weeks ({time.perf_counter() - clock:.0f} s), test weeks ==")
        print(report(test.labels, scores, [band(float(p), settings) for p in scores]))
        print(f"largest calibration gap: {calibration_gap(test.labels, scores):.3f}")
        if name == "lightgbm":
            contributions = lightgbm_contributions(candidate.model, test.matrix)
            logit = np.log(scores / (1 - scores))
            print(f"contributions sum to the log-odds: max |diff| {np.max(np.abs(contributions.sum(1) - logit)):.2e}")
        if name == selection.shipped:
            before = selection.scores[name]
            shipped, fitted = calibrate(candidate.model, validation, before)  # type: ignore[arg-type]
            calibrated = shipped.predict(test.matrix)
            print(f"\n== {name}, recalibrated: {fitted} ==")
            print(deciles("validation weeks (scores of the fit before them)", validation.labels, before, fitted))
            print(deciles("test weeks (refit on all training weeks)", test.labels, scores, fitted))
            print(
                f"test AUC before {auc(test.labels, scores):.4f}, after {auc(test.labels, calibrated):.4f}; "
                f"mean predicted before {scores.mean():.4f}, after {calibrated.mean():.4f}, "
                f"observed {test.labels.mean():.4f}"
            )
            print(f"session coverage before the recalibration: {coverage(sessions(clinic, test, scores))[0]:.1%}")
            shipped_scores = calibrated
            threshold = call_threshold(shipped, validation)
            print(f"call threshold (validation weeks, this model's calibrated scores): {threshold}")
            if args.output:
                import json

                shipped.meta.update(
                    {
                        "model": name,
                        "prediction_instant": instant,
                        "training_window": window(train),
                        "validation": {"window": window(validation), "auc": selection.validation},
                        "test": {"window": window(test), "auc": auc(test.labels, calibrated)},
                        "calibration": fitted,
                        "call_threshold": threshold,
                        "rates": outcome_rates(
                            [a for a in clinic.appointments if a["start"][:10] < args.cutoff], clinic.patients
                        ).frozen(),
                    }
                )
                args.output.write_text(json.dumps(shipped.to_json()) + "\n")
                print(f"model written to {args.output}")
    assert shipped_scores is not None
    seen = judge(test.labels, shipped_scores, test.starts, risk=threshold["risk"])
    print(
        f"\ncall threshold {seen.risk:.3f} on the test weeks: catches {seen.catch_rate:.1%} of no-shows with "
        f"{seen.calls_per_day:.0f} calls per day over {seen.days} days ({seen.precision:.1%} of calls reach a no-show)"
    )
    groups = sessions(clinic, test, shipped_scores)
    share, count = coverage(groups)
    sizes = [len(r) for r, _ in groups]
    example = max(groups, key=lambda g: len(g[0]))
    e = expected(example[0])
    print(
        f"sessions (neighbourhood x day, test weeks): {count}, median {int(np.median(sizes))} bookings; observed "
        f"no-shows inside the 90% interval in {share:.1%}; largest: {e.bookings} booked, expected "
        f"{e.expected_noshows:.1f} no-shows [{e.low}, {e.high}], observed {example[1]}, "
        f"suggest {e.extra_bookings} extra"
    )
    print(f"elapsed: {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--cutoff", default="2016-05-20", help="train before this appointment day, test from it")
    parser.add_argument("--validate", default="2016-05-13", help="inside the training weeks: validation from this day")
    parser.add_argument("--predict-at", choices=("booking", "day-before", "both"), default="both")
    parser.add_argument("--models", default="logistic,ebm,lightgbm", help="comma-separated candidates")
    parser.add_argument("--drop", help="comma-separated feature name prefixes to leave out (ablations)")
    parser.add_argument("--no-reminders", action="store_true", help="leave the reminder Communications out")
    parser.add_argument("--output", type=Path, help="write the shipped model (JSON) here")
    args = parser.parse_args()
    clinic = load(args.csv)
    print(f"rows: {len(clinic.appointments)}  patients: {len(clinic.patients)}")
    for instant in ("booking", "day-before") if args.predict_at == "both" else (args.predict_at,):
        run(clinic, args, instant)


if __name__ == "__main__":
    main()
