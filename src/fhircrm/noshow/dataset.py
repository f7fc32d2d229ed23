"""Training and evaluation sets from FHIR Appointments (and their Patients), split by time: the model is fitted on
earlier appointments and judged on later ones it never saw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from fhircrm.noshow.features import FEATURES, appointment_features, label, patient_ref
from fhircrm.noshow.history import History
from fhircrm.timers.clock import parse_fhir_datetime

REMINDER_COUNT_EXTENSION = "http://fhircrm.org/StructureDefinition/reminders-received"


@dataclass(slots=True)
class Dataset:
    matrix: np.ndarray
    labels: np.ndarray
    starts: list[datetime]

    def split(self, cutoff: datetime) -> tuple[Dataset, Dataset]:
        before = np.array([s < cutoff for s in self.starts])
        return self._take(before), self._take(~before)

    def _take(self, mask: np.ndarray) -> Dataset:
        return Dataset(self.matrix[mask], self.labels[mask], [s for s, m in zip(self.starts, mask, strict=True) if m])


def reminders_of(appointment: dict) -> int:
    """Reminders received, when a data import recorded the count on the Appointment."""
    return next(
        (int(e["valueInteger"]) for e in appointment.get("extension", []) if e.get("url") == REMINDER_COUNT_EXTENSION),
        0,
    )


def build_dataset(
    appointments: list[dict],
    patients: dict[str, dict],
    *,
    now: datetime,
    use_reminders: bool = True,
    predict_at: Callable[[dict], datetime | None] = lambda _appointment: None,
) -> Dataset:
    """Every appointment with a known outcome, its features as known at ``predict_at`` (default: its booking)."""
    by_patient: dict[str | None, list[dict]] = defaultdict(list)
    for appointment in appointments:
        by_patient[patient_ref(appointment)].append(appointment)
    histories = {ref: History.of(items) for ref, items in by_patient.items()}
    rows, labels, starts = [], [], []
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
        )
        rows.append([values[name] for name in FEATURES])
        labels.append(outcome)
        starts.append(parse_fhir_datetime(appointment["start"]))
    matrix = np.array(rows, dtype=float).reshape(len(rows), len(FEATURES))
    return Dataset(matrix, np.array(labels, dtype=float), starts)
