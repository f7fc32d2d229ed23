"""The official R4 examples (``hl7.fhir.r4.examples@4.0.1``): every one passes validation and the non-conformance
ones round-trip through POST and GET, except those listed here with the reason they are refused (each a real
defect of the example); and the definition-driven validator refuses at least what the R4B models refused, on the
examples and on mutated copies of them."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import httpx
import pytest
from tests.fixtures.r4_examples import CONFORMANCE, r4_examples

from fhircrm.errors import FhircrmError
from fhircrm.fhir import models, primitives, validation
from fhircrm.fhir.resource_types import R4_ONLY

#: file -> the elements refused and why (the example itself breaks the R4 definitions)
REFUSED: dict[str, tuple[set[str], str]] = {
    "Questionnaire-qs1.json": ({"Questionnaire.item[0].item[0].linkId"}, "nested items without linkId (min 1)"),
    "ImplementationGuide-fhir.json": ({"ImplementationGuide.name", "ImplementationGuide.status"}, "min 1 missing"),
    "ig-r4.json": ({"ImplementationGuide.name", "ImplementationGuide.status"}, "min 1 missing"),
    "CodeSystem-v2-0550.json": ({"CodeSystem.concept[74].code"}, "codes with two spaces (code format)"),
    "Bundle-v2-valuesets.json": ({"Bundle.entry[814].resource.concept[74].code"}, "holds CodeSystem v2-0550"),
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json": (
        {"SearchParameter.id"},
        "an id longer than 64 characters",
    ),
    # a reference to a type its element's targetProfile does not allow
    "DeviceMetric-example.json": ({"DeviceMetric.parent.reference"}, "a DeviceDefinition (Device only)"),
    "DeviceUseStatement-example.json": (
        {"DeviceUseStatement.reasonReference[0].reference"},
        "a Procedure (Condition, Observation, DiagnosticReport, DocumentReference, Media only)",
    ),
    "MedicationRequest-medrx0301.json": (
        {"MedicationRequest.dispenseRequest.performer.reference"},
        "a Practitioner (Organization only)",
    ),
    "Observation-clinical-gender.json": ({"Observation.performer[0].reference"}, "an Encounter (no Encounter)"),
    **{
        f"SearchParameter-{kind}-extensions-{base}-{code}.json": ({"SearchParameter.base"}, "no base (min 1)")
        for kind, base in (("codesystem", "CodeSystem"), ("valueset", "ValueSet"))
        for code in ("author", "effective", "end", "keyword", "workflow")
    },
}


def _expressions(error: FhircrmError) -> set[str]:
    return {e for issue in error.issues for e in issue.expression}


def refusal(resource: dict) -> set[str] | None:
    """The elements the new validator names, or None when it accepts ``resource``."""
    try:
        validation.validate(resource)
    except FhircrmError as error:
        return _expressions(error)
    return None


def test_every_example_passes_validation_except_the_listed_defects() -> None:
    refused = {}
    for name, resource in r4_examples():
        found = refusal(resource)
        if found is not None:
            refused[name] = found
    assert set(refused) == set(REFUSED)
    for name, (elements, _reason) in REFUSED.items():
        assert elements <= refused[name], name


#: valid examples the server refuses all the same, and why
ROUND_TRIP_REFUSED = {"Bundle-resources.json": "larger than FHIRCRM_MAX_REQUEST_BYTES (20 MiB): 413"}


def _round_trip_sample() -> list[tuple[str, dict]]:
    return [(n, r) for n, r in r4_examples() if r["resourceType"] not in CONFORMANCE and n not in REFUSED]


@pytest.mark.slow
async def test_examples_round_trip_through_post_and_get(client: httpx.AsyncClient) -> None:
    failed = {}
    for name, resource in _round_trip_sample():
        created = await client.post(f"/{resource['resourceType']}", json=resource)
        if name in ROUND_TRIP_REFUSED:
            assert created.status_code == 413, name
            continue
        if created.status_code != 201:
            failed[name] = created.text[:300]
            continue
        stored = (await client.get(f"/{resource['resourceType']}/{created.json()['id']}")).json()
        expected = {k: v for k, v in resource.items() if k not in ("id", "meta")}
        got = {k: v for k, v in stored.items() if k not in ("id", "meta")}
        if got != expected:
            failed[name] = "content changed"
    assert failed == {}


# --- the new validator refuses at least what the R4B models refused -------------------------------------------------


def r4b_refuses(resource: dict) -> bool:
    try:
        primitives.check(resource)
        models.validate(resource)
    except Exception:  # the R4B models also raise AttributeError on some wrong types (a 500 before)
        return True
    return False


def mutants(resource: dict) -> Iterator[tuple[str, dict]]:
    """Copies of ``resource`` each broken in one way at the top level and one level down."""
    yield "unknown element", {**resource, "notAnElement": "x"}
    for key, value in resource.items():
        if key in ("resourceType", "id", "meta", "text", "contained"):
            continue
        yield f"{key} as a number", {**resource, key: 12345}
        yield f"{key} as an object", {**resource, key: {"wrong": True}}
        yield f"{key} as an empty list", {**resource, key: []}
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, dict):
            broken = copy.deepcopy(resource)
            target = broken[key][0] if isinstance(broken[key], list) else broken[key]
            target["notAnElement"] = 1
            yield f"{key}.notAnElement", broken
            for inner, inner_value in first.items():
                if isinstance(inner_value, (str, bool, int, float)):
                    broken = copy.deepcopy(resource)
                    target = broken[key][0] if isinstance(broken[key], list) else broken[key]
                    target[inner] = [inner_value] if not isinstance(inner_value, bool) else "yes"
                    yield f"{key}.{inner} changed", broken
        elif isinstance(first, str):
            yield f"{key} as true", {**resource, key: True}
            yield f"{key} bad date", {**resource, key: "2019-13-45" if not isinstance(value, list) else ["2019-13-45"]}


@pytest.fixture(scope="module")
def compared() -> list[tuple[str, dict]]:
    out = [(n, r) for n, r in r4_examples() if r["resourceType"] not in CONFORMANCE | R4_ONLY and n not in REFUSED]
    return [(n, r) for n, r in out if len(str(r)) < 50_000]  # the large bundles cost the R4B models seconds each


#: R4B redefined these types (their R4 examples are valid R4 that the R4B models refuse): not comparable
R4B_REDEFINED = frozenset({"Evidence", "EvidenceVariable"})


def test_the_new_validator_refuses_every_example_the_r4b_models_refused(compared: list[tuple[str, dict]]) -> None:
    missed = [name for name, resource in compared if r4b_refuses(resource) and refusal(resource) is None]
    assert [name for name in missed if name.split("-")[0] not in R4B_REDEFINED] == []


def test_the_new_validator_refuses_every_mutant_the_r4b_models_refused(compared: list[tuple[str, dict]]) -> None:
    missed = []
    for name, resource in compared[::3]:
        for how, mutant in mutants(resource):
            if r4b_refuses(mutant) and refusal(mutant) is None:
                missed.append(f"{name}: {how}")
    assert missed == []
