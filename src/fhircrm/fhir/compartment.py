"""The Patient compartment: which resources belong to a patient (R4 CompartmentDefinition, from definitions/)."""

from __future__ import annotations

from fhircrm.fhir.resource_types import PATIENT_COMPARTMENT
from fhircrm.fhir.search.extract import compiled_params
from fhircrm.fhir.search.registry import registry


def compartment_params(resource_type: str) -> tuple[str, ...]:
    """The reference search parameters linking ``resource_type`` to a Patient (empty: not in the compartment)."""
    return tuple(p for p in PATIENT_COMPARTMENT.get(resource_type, ()) if registry().get(resource_type, p))


def in_compartment(resource_type: str) -> bool:
    return resource_type == "Patient" or bool(compartment_params(resource_type))


def compartment_branches(resource_type: str, patient_id: str) -> list[list[tuple[str, str]]]:
    """Search branches that select ``resource_type`` resources in Patient/``patient_id``'s compartment."""
    if resource_type == "Patient":
        return [[("_id", patient_id)]]
    return [[(param, f"Patient/{patient_id}")] for param in compartment_params(resource_type)]


def patients_of(resource: dict) -> set[str]:
    """The patients (``Patient/id``) whose compartment ``resource`` is in, from the same extractors as the index."""
    resource_type = resource.get("resourceType", "")
    if resource_type == "Patient":
        return {f"Patient/{resource.get('id')}"}
    wanted = set(compartment_params(resource_type))
    found: set[str] = set()
    if not wanted:
        return found
    for compiled in compiled_params(resource_type):
        if compiled.param.code not in wanted:
            continue
        for value in compiled.extract(resource):
            reference = value.get("reference") if isinstance(value, dict) else None
            if isinstance(reference, str) and reference.startswith("Patient/"):
                found.add(reference.split("/_history", 1)[0])
    return found
