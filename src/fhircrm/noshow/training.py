"""Train and evaluate the no-show model on the store's past Appointments (time split: the later part is held out).

Training compares the candidate models (candidates.py) on a validation split inside the training window only
(its latest 20%), ships the best (a simpler one unless another beats it by MARGIN in AUC), refits it on the whole
window, folds in a Platt recalibration learned on the validation split (calibration.py) and stores with it the
window, the validation figures, the calibration, the clinic's call threshold (on calibrated risks) and the district
and practitioner rates it will read at scoring time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from fhircrm.config import Settings
from fhircrm.fhir.paging import every_match
from fhircrm.fhir.store import FhirStore
from fhircrm.noshow import calibration as platt
from fhircrm.noshow import candidates
from fhircrm.noshow.assess import band, model_for
from fhircrm.noshow.dataset import Dataset, build_dataset, outcome_rates
from fhircrm.noshow.features import FEATURES
from fhircrm.noshow.metrics import auc, calibration, report
from fhircrm.noshow.model import NoShowModel
from fhircrm.noshow.threshold import choose, judge

PAST = "noshow,fulfilled,arrived,checked-in,cancelled"
#: A more complex candidate is shipped only if its validation AUC beats the simpler one's by this much.
MARGIN = 0.005
#: Simplest first: ties go to the earlier one.
SHIPPABLE = ("logistic", "ebm")
#: Below this many past appointments only logistic regression is tried: boosting would fit noise (and the
#: comparison costs minutes on a shared machine).
BOOSTING_MIN_ROWS = 2000


@dataclass(slots=True)
class StoreData:
    appointments: list[dict]
    patients: dict[str, dict]
    conditions: dict[str, list[dict]] = field(default_factory=dict)
    coverages: dict[str, list[dict]] = field(default_factory=dict)


async def read_store(store: FhirStore, *, now: datetime) -> StoreData:
    appointments = await every_match(store, "Appointment", [("status", PAST), ("date", f"lt{now.isoformat()}")])
    patients = {f"Patient/{p['id']}": p for p in await every_match(store, "Patient", [])}
    data = StoreData(appointments, patients)
    for condition in await every_match(store, "Condition", [("clinical-status", "active")]):
        ref = (condition.get("subject") or {}).get("reference", "")
        data.conditions.setdefault(ref, []).append(condition)
    for coverage in await every_match(store, "Coverage", [("status", "active")]):
        ref = (coverage.get("beneficiary") or {}).get("reference", "")
        data.coverages.setdefault(ref, []).append(coverage)
    return data


async def store_dataset(store: FhirStore, *, now: datetime) -> Dataset:
    data = await read_store(store, now=now)
    return build_dataset(
        data.appointments, data.patients, now=now, conditions=data.conditions, coverages=data.coverages
    )


def time_split(data: Dataset, *, held_out: float = 0.2) -> tuple[Dataset, Dataset]:
    if not data.starts:
        raise ValueError("no past appointments with a known outcome")
    cutoff = sorted(data.starts)[int(len(data.starts) * (1 - held_out))]
    return data.split(cutoff)


def fit_candidate(name: str, data: Dataset, *, version: str) -> candidates.Candidate:
    if name == "lightgbm":
        return candidates.lightgbm(data.matrix, data.labels)
    return getattr(candidates, name)(data.matrix, data.labels, version=version)


@dataclass(slots=True)
class Selection:
    shipped: str
    validation: dict[str, float]  # candidate -> AUC on the validation split
    scores: dict[str, np.ndarray]  # candidate -> validation scores


def call_threshold(model: object, validation: Dataset) -> dict:
    """The cut on the shipped model's own scale: its scores of the validation weeks (which it was refitted on; a
    cut taken from the earlier fit's scores moved with the refit, catching 38% instead of 50% on Vitória)."""
    scores = model.predict(validation.matrix)  # type: ignore[attr-defined]
    return choose(validation.labels, scores, validation.starts).as_json()


def select(fitting: Dataset, validation: Dataset, names: tuple[str, ...], *, version: str) -> Selection:
    """Fit each candidate on ``fitting``, judge it on ``validation``; choose among the shippable ones."""
    if len(set(fitting.labels.tolist())) < 2 or len(set(validation.labels.tolist())) < 2:
        raise ValueError("training needs both kept and missed appointments before and after the validation cut")
    scores = {n: fit_candidate(n, fitting, version=version).predict(validation.matrix) for n in names}
    aucs = {n: auc(validation.labels, s) for n, s in scores.items()}
    shipped = next(n for n in SHIPPABLE if n in names)
    for name in SHIPPABLE:
        if name in names and aucs[name] > aucs[shipped] + MARGIN:
            shipped = name
    return Selection(shipped, aucs, scores)


def window(data: Dataset) -> dict:
    return {"from": min(data.starts).isoformat(), "to": max(data.starts).isoformat(), "appointments": len(data.labels)}


def calibration_gap(labels: np.ndarray, scores: np.ndarray) -> float:
    """The largest |mean predicted - observed| over the deciles."""
    return max((abs(p - o) for _, _, p, o in calibration(labels, scores)), default=0.0)


def calibrate(model: NoShowModel, validation: Dataset, before: np.ndarray) -> tuple[NoShowModel, dict]:
    """``model`` with a Platt scaling folded in, fitted on the validation rows only: ``before`` are the scores of
    the model fitted before the validation split (out of sample). Unscaled when the split is too small (the
    record says so)."""
    fitted = platt.fit(before, validation.labels)
    record = {
        "method": "platt" if fitted else "none",
        **(fitted or platt.IDENTITY).as_json(),
        "fitted_on": window(validation),
        "gap_before": round(calibration_gap(validation.labels, before), 4),
        "gap_after": round(calibration_gap(validation.labels, (fitted or platt.IDENTITY).apply(before)), 4),
    }
    if fitted is None:
        return model, record
    return model.scaled(fitted.slope, fitted.offset), record


async def train(store: FhirStore, *, now: datetime, names: tuple[str, ...] | None = None) -> tuple[NoShowModel, int]:
    """The shipped candidate refitted on every past appointment, with its metadata."""
    read = await read_store(store, now=now)
    data = build_dataset(
        read.appointments, read.patients, now=now, conditions=read.conditions, coverages=read.coverages
    )
    if len(set(data.labels.tolist())) < 2:
        raise ValueError("training needs both kept and missed appointments")
    version = f"store-{now.date().isoformat()}"
    fitting, validation = time_split(data)
    selection = select(fitting, validation, names or available(len(data.labels)), version=version)
    model, calibrated = calibrate(
        fit_candidate(selection.shipped, data, version=version).model,  # type: ignore[arg-type]
        validation,
        selection.scores[selection.shipped],
    )
    model.meta.update(
        {
            "model": selection.shipped,
            "training_window": window(data),
            "validation": {
                "window": window(validation),
                "auc": {n: round(a, 4) for n, a in selection.validation.items()},
                "calibration_gap": round(calibration_gap(validation.labels, selection.scores[selection.shipped]), 4),
            },
            "calibration": calibrated,
            "call_threshold": call_threshold(model, validation),
            "rates": outcome_rates(read.appointments, read.patients).frozen(),
        }
    )
    return model, len(data.labels)  # type: ignore[return-value]


def available(rows: int) -> tuple[str, ...]:
    """The shippable candidates worth trying on ``rows`` appointments whose library is installed (explainable
    boosting needs interpret-core)."""
    if rows < BOOSTING_MIN_ROWS:
        return ("logistic",)
    try:
        import interpret  # noqa: F401
    except ImportError:
        return ("logistic",)
    return SHIPPABLE


def describe(model: NoShowModel) -> str:
    """What IT needs to know about the configured model: its kind, window, validation figures and threshold."""
    meta = model.meta
    if not meta:
        return f"configured model: {model.version} ({model.kind}, literature priors; no training metadata)"
    lines = [f"configured model: {model.version} ({meta.get('model', model.kind)})"]
    trained = meta.get("training_window", {})
    lines.append(f"  trained on {trained.get('appointments')} appointments, {trained.get('from')}..{trained.get('to')}")
    validation = meta.get("validation", {})
    aucs = ", ".join(f"{n} {a:.3f}" for n, a in validation.get("auc", {}).items())
    lines.append(f"  validation AUC: {aucs}; calibration gap {validation.get('calibration_gap')}")
    fitted = meta.get("calibration")
    if fitted and fitted.get("method") == "platt":
        lines.append(
            f"  calibration: Platt, log-odds x {fitted['slope']:.3f} {fitted['offset']:+.3f}, fitted on the "
            f"{fitted['fitted_on']['appointments']} validation appointments; largest decile gap there "
            f"{fitted['gap_before']:.3f} -> {fitted['gap_after']:.3f}"
        )
    elif fitted:
        lines.append("  calibration: none (too few validation appointments)")
    cut = meta.get("call_threshold")
    if cut:
        lines.append(
            f"  call threshold: risk >= {cut['risk']:.3f} catches {cut['catch_rate']:.0%} of no-shows with "
            f"{cut['calls_per_day']:.1f} calls per day ({cut['precision']:.0%} of calls reach a would-be no-show; "
            f"{cut['days']} validation days)"
        )
    return "\n".join(lines)


async def evaluate(store: FhirStore, *, settings: Settings, now: datetime) -> str:
    train_set, test_set = time_split(await store_dataset(store, now=now))
    refit = candidates.logistic(train_set.matrix, train_set.labels, version="held-out").model
    configured = model_for(settings)
    sections = [describe(configured)]
    for title, model in (("refit on the earlier 80%", refit), ("configured model", configured)):
        scores = model.predict(_columns(test_set, model))
        bands = [band(float(p), settings, model=model) for p in scores]
        sections.append(f"== {title}, held-out later appointments ==\n" + report(test_set.labels, scores, bands))
        cut = model.meta.get("call_threshold")
        if cut and test_set.labels.any():
            seen = judge(test_set.labels, scores, test_set.starts, risk=cut["risk"])
            sections.append(
                f"call threshold {cut['risk']:.3f} on these: catches {seen.catch_rate:.0%} of no-shows with "
                f"{seen.calls_per_day:.1f} calls per day over {seen.days} days"
            )
    return "\n".join(sections)


def _columns(data: Dataset, model: NoShowModel) -> np.ndarray:
    index = {name: i for i, name in enumerate(FEATURES)}
    return np.column_stack(
        [data.matrix[:, index[n]] if n in index else np.zeros(len(data.labels)) for n in model.features]
    )
