"""The resource types fhircrm stores: every R4 (4.0.1) resource type, the 145 the Patient CompartmentDefinition
lists. All are validated from the official R4 definitions (``fhircrm.fhir.validator``), including the 18 that R4B
dropped (``R4_ONLY``: the MedicinalProduct* family, the Substance* details and the two evidence syntheses), which
fhir.resources' R4B models cannot load. ``tests/fhir/test_resource_types.py`` checks this list against both.
"""

from __future__ import annotations

import orjson

from fhircrm.fhir.paths import DEFINITIONS

R4_ONLY = frozenset(
    {
        "EffectEvidenceSynthesis",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "RiskEvidenceSynthesis",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
    }
)

_compartment = orjson.loads((DEFINITIONS / "compartmentdefinition-patient.json").read_bytes())

R4_TYPES: tuple[str, ...] = tuple(entry["code"] for entry in _compartment["resource"])
RESOURCE_TYPES: tuple[str, ...] = R4_TYPES
RESOURCE_TYPE_SET = frozenset(RESOURCE_TYPES)

#: Patient compartment membership: resource type -> the search parameters that link it to a Patient.
PATIENT_COMPARTMENT: dict[str, tuple[str, ...]] = {
    entry["code"]: tuple(entry.get("param", ())) for entry in _compartment["resource"] if entry.get("param")
}
