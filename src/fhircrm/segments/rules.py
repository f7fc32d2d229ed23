"""Segment rules as data: shorthand criteria (condition, age, coverage ...) compile to FHIR searches.

Every criterion becomes a ``Clause``: a search on one resource type whose matches name patients. Patient
clauses are merged into one Patient search; other resources (several parameters that must hold on the SAME
resource, like "a no-show in the last 90 days") are searched on their own and mapped to their patient.
Dates may be written relative to the evaluation day: ``{today-90d}``, ``{today-6mo}``, ``{today-65y}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import yaml

SNOMED = "http://snomed.info/sct"
_RELATIVE = re.compile(r"\{today(?:([+-])(\d+)(d|mo|y))?\}")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: the reference parameter of each resource type that names the patient
PATIENT_PARAM = {
    "Patient": "_id",
    "Condition": "patient",
    "Coverage": "beneficiary",
    "Encounter": "patient",
    "Procedure": "patient",
    "Appointment": "patient",
    "RiskAssessment": "patient",
    "Flag": "patient",
    "Observation": "patient",
    "Immunization": "patient",
    "ServiceRequest": "patient",
    "Task": "patient",
    "Communication": "patient",
    "QuestionnaireResponse": "patient",
}


class RuleError(ValueError):
    """The definition is not a valid segment rule (the message says which part)."""


@dataclass(frozen=True, slots=True)
class Clause:
    resource_type: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SegmentRule:
    id: str
    title: str
    description: str = ""
    all: tuple[Clause, ...] = ()
    none: tuple[Clause, ...] = ()
    source: dict = field(default_factory=dict, compare=False)


def shift(day: date, sign: str, amount: int, unit: str) -> date:
    n = amount if sign == "+" else -amount
    if unit == "d":
        return day + timedelta(days=n)
    months = day.year * 12 + day.month - 1 + (n if unit == "mo" else 12 * n)
    year, month = divmod(months, 12)
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, dom)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def expand(value: str, today: date) -> str:
    """Replace ``{today-90d}`` style placeholders with dates."""

    def sub(match: re.Match) -> str:
        if not match.group(1):
            return today.isoformat()
        return shift(today, match.group(1), int(match.group(2)), match.group(3)).isoformat()

    return _RELATIVE.sub(sub, value)


def _codes(value: object, system: str = SNOMED) -> str:
    items = value if isinstance(value, list) else [value]
    return ",".join(str(v) if "|" in str(v) else f"{system}|{v}" for v in items)


def _search(text: str) -> Clause:
    """``Appointment?status=noshow&date=ge{today-90d}`` as a clause."""
    from urllib.parse import parse_qsl

    kind, _, query = text.partition("?")
    if kind not in PATIENT_PARAM:
        raise RuleError(f"searches on {kind or '(none)'} cannot select patients")
    pairs = tuple(parse_qsl(query, keep_blank_values=False))
    if not pairs:
        raise RuleError(f"the search {text!r} has no parameters")
    return Clause(kind, pairs)


def _criterion(name: str, value: object) -> list[Clause]:
    patient = "Patient"
    if name == "condition":
        return [Clause(patient, (("_has:Condition:patient:code", _codes(value)),))]
    if name == "coverage":
        if value == "self-pay":
            return [Clause(patient, (("_has:Coverage:beneficiary:type", "pay"),))]
        if value == "insured":
            return [Clause("Coverage", (("status", "active"), ("type:not", "pay")))]
        raise RuleError("coverage is self-pay or insured")
    if name == "age":
        if not isinstance(value, dict) or not set(value) <= {"min", "max"}:
            raise RuleError("age is {min: years, max: years}")
        params = []
        if "min" in value:
            params.append(("birthdate", f"le{{today-{int(value['min'])}y}}"))
        if "max" in value:
            params.append(("birthdate", f"gt{{today-{int(value['max']) + 1}y}}"))
        return [Clause(patient, tuple(params))]
    if name == "gender":
        return [Clause(patient, (("gender", str(value)),))]
    if name == "language":
        return [Clause(patient, (("language", str(value)),))]
    if name == "preferred_channel":
        return [Clause(patient, (("preferred-channel", str(value)),))]
    if name == "risk":
        return [Clause(patient, (("_has:RiskAssessment:patient:risk", str(value)),))]
    if name == "flag":
        return [Clause("Flag", (("status", "active"), *((("code", _codes(value)),) if value is not True else ())))]
    if name in ("encounter_within_days", "procedure_within_days"):
        kind = "Encounter" if name.startswith("encounter") else "Procedure"
        spec = value if isinstance(value, dict) else {"days": value}
        params = [("date", f"ge{{today-{int(spec['days'])}d}}")]
        if spec.get("code"):
            params.append(("code", _codes(spec["code"])))
        return [Clause(kind, tuple(params))]
    if name == "noshows_within_days":
        return [Clause("Appointment", (("status", "noshow"), ("date", f"ge{{today-{int(value)}d}}")))]
    if name == "search":
        return [_search(v) for v in (value if isinstance(value, list) else [value])]
    raise RuleError(f"unknown criterion {name!r}")


def _clauses(items: object, where: str) -> tuple[Clause, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise RuleError(f"{where} must be a list of criteria")
    out: list[Clause] = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise RuleError(f"each criterion in {where} is one 'name: value' pair")
        ((name, value),) = item.items()
        try:
            out.extend(_criterion(name, value))
        except (KeyError, TypeError, ValueError) as exc:
            raise RuleError(f"{where}.{name}: {exc}") from exc
    return tuple(out)


def parse_rule(data: dict | str) -> SegmentRule:
    """A definition (dict, or YAML/JSON text) as a rule; RuleError says what is wrong."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise RuleError(f"not YAML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleError("a segment definition is an object")
    ident = data.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise RuleError("id is lowercase letters, digits and dashes")
    if not data.get("title"):
        raise RuleError("title is required")
    unknown = set(data) - {"id", "title", "description", "all", "none"}
    if unknown:
        raise RuleError(f"unknown fields: {', '.join(sorted(unknown))}")
    rule = SegmentRule(
        id=ident,
        title=str(data["title"]),
        description=str(data.get("description") or ""),
        all=_clauses(data.get("all"), "all"),
        none=_clauses(data.get("none"), "none"),
        source=json.loads(json.dumps(data, default=str)),
    )
    if not rule.all:
        raise RuleError("a segment needs at least one criterion under all")
    return rule
