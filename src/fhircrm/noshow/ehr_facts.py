"""What else the EHR holds about a booked patient, as known at the prediction instant.

Active Conditions (SNOMED CT), a welfare Coverage (v3 ActCode coverage types), reminders already sent
(Communications based on the Appointment) and outcome rates of the patient's district and of the practitioner.
Each fact counts only if it was on record by the instant: a Condition recorded, a Coverage started, a
Communication sent at or before it; rates come only from appointments on days before the instant's day.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from fhircrm.clock import parse_fhir_datetime
from fhircrm.noshow.history import day_start

SNOMED = "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
#: SNOMED CT concept -> feature (a disability's count is recorded in DISABILITY_COUNT_EXTENSION, default 1).
CONDITION_FEATURES = {
    "38341003": "condition_hypertension",  # Hypertensive disorder
    "73211009": "condition_diabetes",  # Diabetes mellitus
    "44054006": "condition_diabetes",  # Diabetes mellitus type 2
    "46635009": "condition_diabetes",  # Diabetes mellitus type 1
    "7200002": "condition_alcoholism",  # Alcoholism
    "21134002": "disability",  # Disability
}
DISABILITY_COUNT_EXTENSION = "http://fhircrm.org/StructureDefinition/disability-count"
#: Coverage types of subsidized / welfare programs (v3 ActCoverageTypeCode).
WELFARE_COVERAGE = frozenset({"SUBSIDIZ", "SUBSIDMC", "SUBSUPP"})
SELF_PAY = "http://terminology.hl7.org/CodeSystem/coverage-selfpay"
#: How many appointments' worth of the overall rate a district's or practitioner's own rate is shrunk towards.
SHRINK = 100.0


@dataclass(frozen=True, slots=True)
class Facts:
    """A patient's Conditions and Coverages and the Communications about one appointment (any order)."""

    conditions: tuple[dict, ...] = ()
    coverages: tuple[dict, ...] = ()
    communications: tuple[dict, ...] = ()


def _on_record(when: str | None, at: datetime) -> bool:
    return not when or parse_fhir_datetime(when) <= at


def _active(condition: dict) -> bool:
    codes = {c.get("code") for c in (condition.get("clinicalStatus") or {}).get("coding", [])}
    return not codes or bool(codes & {"active", "recurrence", "relapse"})


def condition_values(conditions: Iterable[dict], at: datetime) -> dict[str, float]:
    """1 per active chronic condition on record at ``at``; ``disability``: how many (capped at 2)."""
    values = dict.fromkeys(CONDITION_FEATURES.values(), 0.0)
    for condition in conditions:
        if not _active(condition) or not _on_record(condition.get("recordedDate"), at):
            continue
        for coding in (condition.get("code") or {}).get("coding", []):
            name = CONDITION_FEATURES.get(coding.get("code", "")) if coding.get("system") == SNOMED else None
            if name == "disability":
                extensions = condition.get("extension", [])
                count = next((e["valueInteger"] for e in extensions if e.get("url") == DISABILITY_COUNT_EXTENSION), 1)
                values[name] = float(min(values[name] + count, 2))
            elif name:
                values[name] = 1.0
    return values


def welfare_coverage(coverages: Iterable[dict], at: datetime) -> float:
    """1 when an active welfare Coverage had started by ``at``."""
    for coverage in coverages:
        if coverage.get("status", "active") != "active":
            continue
        if not _on_record((coverage.get("period") or {}).get("start"), at):
            continue
        codes = {c.get("code") for c in (coverage.get("type") or {}).get("coding", []) if c.get("system") == ACT_CODE}
        if codes & WELFARE_COVERAGE:
            return 1.0
    return 0.0


def self_pay(coverages: Iterable[dict], at: datetime) -> float:
    """1 when the patient's active Coverage by ``at`` is self-pay (coverage-selfpay ``pay``)."""
    for coverage in coverages:
        if coverage.get("status", "active") != "active" or not _on_record(
            (coverage.get("period") or {}).get("start"), at
        ):
            continue
        if any(c.get("system") == SELF_PAY for c in (coverage.get("type") or {}).get("coding", [])):
            return 1.0
    return 0.0


def reminders_sent(communications: Iterable[dict], at: datetime) -> int:
    """Completed Communications about the appointment sent at or before ``at``."""
    return sum(
        1 for c in communications if c.get("status") == "completed" and c.get("sent") and _on_record(c["sent"], at)
    )


def district(patient: dict | None) -> str | None:
    """The patient's home (else first) address district, upper-cased."""
    addresses = (patient or {}).get("address", [])
    home = [a for a in addresses if a.get("use") == "home"] or addresses
    value = next((a.get("district") for a in home if a.get("district")), None)
    return value.strip().upper() if value else None


def practitioner(appointment: dict) -> str | None:
    return next(
        (
            ref
            for p in appointment.get("participant", [])
            if (ref := (p.get("actor") or {}).get("reference", "")).startswith("Practitioner/")
        ),
        None,
    )


class Rates(Protocol):
    """How much more often appointments of a district or practitioner were missed than all, by an instant."""

    def excess(self, kind: str, key: str | None, at: datetime) -> float: ...


class NoRates:
    def excess(self, kind: str, key: str | None, at: datetime) -> float:
        return 0.0


def shrunk_excess(noshows: float, total: float, overall: float) -> float:
    """The group's rate shrunk towards the overall rate by SHRINK pseudo-appointments, minus the overall rate."""
    return (noshows + SHRINK * overall) / (total + SHRINK) - overall


@dataclass(slots=True)
class RollingRates:
    """Rates as they were known at each instant: only outcomes of appointments on earlier days count
    (time-respecting target encoding, for training and benchmarks)."""

    days: dict[tuple[str, str | None], list[datetime]] = field(default_factory=dict)
    cumulative: dict[tuple[str, str | None], list[tuple[int, int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, outcomes: Iterable[tuple[str, str | None, datetime, int]]) -> RollingRates:
        """From (kind, key, appointment start, 1 no-show / 0 kept); key None rows only feed the overall rate."""
        grouped: dict[tuple[str, str | None], list[tuple[datetime, int]]] = defaultdict(list)
        for kind, key, start, missed in outcomes:
            grouped[(kind, None)].append((start, missed))
            if key is not None:
                grouped[(kind, key)].append((start, missed))
        rates = cls()
        for group, rows in grouped.items():
            rows.sort(key=lambda r: r[0])
            noshows = 0
            running = []
            for i, (_, missed) in enumerate(rows, start=1):
                noshows += missed
                running.append((noshows, i))
            rates.days[group] = [r[0] for r in rows]
            rates.cumulative[group] = running
        return rates

    def _counts(self, group: tuple[str, str | None], at: datetime) -> tuple[int, int]:
        end = bisect.bisect_left(self.days.get(group, []), day_start(at))
        return self.cumulative[group][end - 1] if end else (0, 0)

    def excess(self, kind: str, key: str | None, at: datetime) -> float:
        if key is None:
            return 0.0
        overall_noshows, overall_total = self._counts((kind, None), at)
        if not overall_total:
            return 0.0
        noshows, total = self._counts((kind, key), at)
        return shrunk_excess(noshows, total, overall_noshows / overall_total)

    def frozen(self) -> dict:
        """Every group's totals to date, as stored with a trained model (all from its training window)."""
        table: dict = {"overall": {}, "groups": defaultdict(dict)}
        for (kind, key), running in self.cumulative.items():
            noshows, total = running[-1]
            if key is None:
                table["overall"][kind] = [noshows, total]
            else:
                table["groups"][kind][key] = [noshows, total]
        table["groups"] = dict(table["groups"])
        return table


@dataclass(frozen=True, slots=True)
class FrozenRates:
    """The rates a trained model stored: every outcome in them precedes any booking it will score."""

    table: dict

    def excess(self, kind: str, key: str | None, at: datetime) -> float:
        overall = self.table.get("overall", {}).get(kind)
        if key is None or not overall or not overall[1]:
            return 0.0
        noshows, total = self.table.get("groups", {}).get(kind, {}).get(key, (0, 0))
        return shrunk_excess(noshows, total, overall[0] / overall[1])
