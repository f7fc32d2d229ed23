"""RESOURCE_TYPES is every R4 type that the fhir.resources R4B models can load, no more and no less."""

from __future__ import annotations

import orjson
from fhir.resources.R4B import get_fhir_model_class

from fhircrm.fhir.paths import DEFINITIONS
from fhircrm.fhir.resource_types import R4_ONLY, RESOURCE_TYPES


def r4_types() -> list[str]:
    """Every R4 resource type: the Patient CompartmentDefinition lists each one, member or not."""
    compartment = orjson.loads((DEFINITIONS / "compartmentdefinition-patient.json").read_bytes())
    return [entry["code"] for entry in compartment["resource"]]


def loadable(resource_type: str) -> bool:
    try:
        get_fhir_model_class(resource_type)
    except (KeyError, ValueError, LookupError, ImportError):
        return False
    return True


def test_r4_has_145_resource_types() -> None:
    types = r4_types()
    assert len(types) == len(set(types)) == 145
    assert {"Patient", "Appointment", "Communication", "Task", "Bundle"} <= set(types)


def test_resource_types_are_the_r4_types_r4b_can_load() -> None:
    assert list(RESOURCE_TYPES) == [t for t in r4_types() if loadable(t)]


def test_the_types_left_out_are_exactly_those_r4b_dropped() -> None:
    assert {t for t in r4_types() if not loadable(t)} == R4_ONLY
