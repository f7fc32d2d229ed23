"""RESOURCE_TYPES is every R4 resource type; the 18 that the fhir.resources R4B models cannot load (``R4_ONLY``)
are stored all the same, validated from the R4 definitions, and each has an access class."""

from __future__ import annotations

import orjson
from fhir.resources.R4B import get_fhir_model_class

from fhircrm.fhir.paths import DEFINITIONS
from fhircrm.fhir.resource_types import R4_ONLY, RESOURCE_TYPES
from fhircrm.fhir.structure import definitions
from fhircrm.smart.access_table import access_class


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


def test_resource_types_are_every_r4_type_with_a_definition_and_an_access_class() -> None:
    assert list(RESOURCE_TYPES) == r4_types()
    assert set(RESOURCE_TYPES) <= definitions().resources  # the definitions add Parameters, never stored
    for resource_type in RESOURCE_TYPES:
        assert access_class(resource_type).name


def test_r4_only_are_exactly_the_types_r4b_dropped() -> None:
    assert {t for t in r4_types() if not loadable(t)} == R4_ONLY
    assert len(R4_ONLY) == 18
