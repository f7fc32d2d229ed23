"""Partial validation of an update (``models.validate_change``) must accept and refuse exactly what a full
validation of the new version does. Checked over the demo clinic's resources (a few of each type) and types with a
required choice, each top-level element removed, replaced by a string, by a list holding null and by an unknown
object in turn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fhircrm.demo.generator import ClinicSpec, generate_clinic
from fhircrm.errors import FhircrmError
from fhircrm.fhir.diff import changed_elements
from fhircrm.fhir.models import validate, validate_change


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
