"""Training and evaluation sets from FHIR Appointments (and their Patients), split by time: the model is fitted on
earlier appointments and judged on later ones it never saw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from fhircrm.clock import parse_fhir_datetime
from fhircrm.noshow.ehr_facts import Facts, RollingRates, district, practitioner
from fhircrm.noshow.features import FEATURES, appointment_features, label, patient_ref
from fhircrm.noshow.history import History

REMINDER_COUNT_EXTENSION = "http://fhircrm.org/StructureDefinition/reminders-received"


@dataclass(slots=True)
class Dataset:
    matrix: np.ndarray
    labels: np.ndarray
    starts: list[datetime]
    ids: list[str] = field(default_factory=list)

    def split(self, cutoff: datetime) -> tuple[Dataset, Dataset]:
        before = np.array([s < cutoff for s in self.starts])
        return self._take(before), self._take(~before)

    def _take(self, mask: np.ndarray) -> Dataset:
        pick = np.flatnonzero(mask)
        return Dataset(
            self.matrix[mask], self.labels[mask], [self.starts[i] for i in pick], [self.ids[i] for i in pick]
        )


def reminders_of(appointment: dict) -> int:
    """Reminders received, when a data import recorded the count on the Appointment."""
    return next(
        (int(e["valueInteger"]) for e in appointment.get("extension", []) if e.get("url") == REMINDER_COUNT_EXTENSION),
        0,
    )


def outcome_rates(appointments: list[dict], patients: dict[str, dict]) -> RollingRates:
    """District and practitioner no-show rates as known at any instant, from these appointments' outcomes."""
    outcomes = []
    for appointment in appointments:
        outcome = label(appointment)
        if outcome is None or not appointment.get("start"):
            continue
        start = parse_fhir_datetime(appointment["start"])
        outcomes.append(("district", district(patients.get(patient_ref(appointment) or "")), start, outcome))
        outcomes.append(("practitioner", practitioner(appointment), start, outcome))
    return RollingRates.of(outcomes)


def build_dataset(
    appointments: list[dict],
    patients: dict[str, dict],
    *,
    now: datetime,
    use_reminders: bool = True,
    predict_at: Callable[[dict], datetime | None] = lambda _appointment: None,
    conditions: dict[str, list[dict]] | None = None,
    coverages: dict[str, list[dict]] | None = None,
    communications: dict[str, list[dict]] | None = None,
) -> Dataset:
    """Every appointment with a known outcome, its features as known at ``predict_at`` (default: its booking).

    ``conditions`` and ``coverages`` are by Patient reference, ``communications`` by Appointment reference."""
    by_patient: dict[str | None, list[dict]] = defaultdict(list)
    for appointment in appointments:
        by_patient[patient_ref(appointment)].append(appointment)
    histories = {ref: History.of(items) for ref, items in by_patient.items()}
    rates = outcome_rates(appointments, patients)
    conditions, coverages, communications = conditions or {}, coverages or {}, communications or {}
    rows, labels, starts, ids = [], [], [], []
    for appointment in appointments:
        outcome = label(appointment)
        if outcome is None or not appointment.get("start"):
            continue
        ref = patient_ref(appointment)
        values = appointment_features(
            appointment,
            patient=patients.get(ref or ""),
            history=histories[ref],
            reminders=reminders_of(appointment) if use_reminders else 0,
            now=now,
            at=predict_at(appointment),
            facts=Facts(
                tuple(conditions.get(ref or "", ())),
                tuple(coverages.get(ref or "", ())),
                tuple(communications.get(f"Appointment/{appointment.get('id')}", ()) if use_reminders else ()),
            ),
            rates=rates,
        )
        rows.append([values[name] for name in FEATURES])
        labels.append(outcome)
        starts.append(parse_fhir_datetime(appointment["start"]))
        ids.append(appointment.get("id", ""))
    matrix = np.array(rows, dtype=float).reshape(len(rows), len(FEATURES))
    return Dataset(matrix, np.array(labels, dtype=float), starts, ids)
