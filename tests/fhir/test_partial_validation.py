"""An update's partial validation (``validation.validate_change``) must accept and refuse exactly what a full
validation of the new version does, and its partial re-indexing must leave the rows a full re-index would.
Checked over the demo clinic's resources (a few of each type) and types with a required choice, each top-level
element removed, replaced by a string, by a list holding null and by an unknown object in turn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fhircrm.demo.generator import ClinicSpec, generate_clinic
from fhircrm.errors import FhircrmError
from fhircrm.fhir.diff import changed_elements
from fhircrm.fhir.search.extract import affected_sps, index_rows
from fhircrm.fhir.validation import validate, validate_change


def _passes(check: Callable[[], None]) -> bool:
    try:
        check()
    except FhircrmError:
        return False
    return True


#: Required choices (``medication[x]``, ``occurrence[x]``...) and optional ones (``value[x]``, ``deceased[x]``).
CHOICES = [
    {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": "metformin 500 mg"},
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "HbA1c"},
        "valueQuantity": {"value": 7.1, "unit": "%"},
        "effectiveDateTime": "2026-11-02",
    },
    {"resourceType": "Patient", "id": "p1", "deceasedBoolean": False, "name": [{"family": "Mensah"}]},
]


def _resources(per_type: int = 4) -> list[dict]:
    out, counts = list(CHOICES), {}
    for batch in generate_clinic(ClinicSpec(patients=12, days=60, seed=3, today=dt.date(2026, 11, 27))):
        for entry in batch:
            resource = entry.get("resource", entry)
            kind = resource["resourceType"]
            counts[kind] = counts.get(kind, 0) + 1
            if counts[kind] <= per_type:
                out.append(resource)
    return out


def _variants(resource: dict, key: str) -> list[dict]:
    removed = {k: v for k, v in resource.items() if k != key}
    return [removed, {**resource, key: "not this"}, {**resource, key: [None]}, {**resource, key: {"x": 1}}]


def test_partial_validation_agrees_with_full_validation() -> None:
    checked, types = 0, set()
    for resource in _resources():
        if not _passes(lambda r=resource: validate(r)):
            continue
        types.add(resource["resourceType"])
        for key in [k for k in resource if k not in ("resourceType", "id")]:
            for new in _variants(resource, key):
                full = _passes(lambda n=new: validate(n))
                partial = _passes(lambda n=new, r=resource: validate_change(n, r, changed_elements(r, n)))
                assert partial == full, (resource["resourceType"], key, new.get(key))
                checked += 1
    assert len(types) >= 12 and checked > 500


def _row_set(rows: dict[str, list[dict]]) -> set[tuple]:
    return {(kind, tuple(sorted(row.items()))) for kind, kind_rows in rows.items() for row in kind_rows}


def test_partial_reindexing_gives_the_rows_of_a_full_reindex() -> None:
    """Rows kept from the previous version (parameters that read no changed element) plus the rows re-extracted
    for the affected parameters equal the new version's full extraction, for every mutation of every element."""
    checked = 0
    for resource in _resources():
        before = index_rows(resource)
        for key in [k for k in resource if k not in ("resourceType", "id")]:
            for new in [*_variants(resource, key), {**resource, key: resource[key]}, _changed_value(resource, key)]:
                changed = changed_elements(resource, new)
                assert changed is not None
                stale = affected_sps(resource["resourceType"], changed)
                kept = {
                    kind: [row for row in rows if row["sp"] not in stale.get(kind, ())] for kind, rows in before.items()
                }
                assert _row_set(kept) | _row_set(index_rows(new, changed)) == _row_set(index_rows(new))
                checked += 1
    assert checked > 500


def _changed_value(resource: dict, key: str) -> dict:
    """A plausible change of the element's value: another status code, a shifted reference, an edited text."""
    value = resource[key]
    if isinstance(value, str):
        return {**resource, key: value + "x"}
    if isinstance(value, dict) and "reference" in value:
        return {**resource, key: {**value, "reference": value["reference"] + "x"}}
    return {k: v for k, v in resource.items() if k != key}
