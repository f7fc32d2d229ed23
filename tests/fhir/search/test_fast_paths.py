"""The compiled fast paths of search expressions index exactly what fhirpathpy would (no database needed)."""

from __future__ import annotations

import pytest

from fhircrm.fhir.search.paths import _fhirpath_fallback, compile_expression

CHANNEL = "http://fhircrm.org/CodeSystem/channel"
CHANNEL_WHERE = f"Communication.category.where(coding.system='{CHANNEL}')"
DECEASED = "Patient.deceased.exists() and Patient.deceased != false"

CATEGORIES = [
    [],
    [{"coding": [{"system": CHANNEL, "code": "sms"}]}],
    [{"coding": [{"system": CHANNEL, "code": "sms"}, {"system": "http://other", "code": "x"}]}],
    [{"coding": [{"system": CHANNEL, "code": "sms"}, {"code": "no-system"}]}],
    [{"coding": [{"system": CHANNEL, "code": "sms"}, {"system": CHANNEL, "code": "email"}]}],
    [{"coding": [{"system": "http://other"}]}, {"coding": [{"system": CHANNEL, "code": "email"}], "text": "Email"}],
    [{"text": "free text only"}],
]

DECEASED_SHAPES = [
    {},
    {"deceasedBoolean": False},
    {"deceasedBoolean": True},
    {"deceasedDateTime": "2020-01-01"},
    {"deceasedDateTime": "2020-01-01T10:00:00Z"},
]


def test_the_channel_and_deceased_expressions_compile_to_the_fast_form() -> None:
    assert compile_expression(CHANNEL_WHERE, "Communication")[1]
    assert compile_expression(DECEASED, "Patient")[1]


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_dotted_where_equality_selects_the_same_concepts_as_fhirpath(category: list) -> None:
    resource = {"resourceType": "Communication", "status": "completed", "category": category}
    fast, _ = compile_expression(CHANNEL_WHERE, "Communication")
    assert fast(resource) == _fhirpath_fallback(CHANNEL_WHERE)(resource)


@pytest.mark.parametrize("shape", DECEASED_SHAPES)
def test_exists_and_not_false_gives_the_same_boolean_as_fhirpath(shape: dict) -> None:
    resource = {"resourceType": "Patient", **shape}
    fast, _ = compile_expression(DECEASED, "Patient")
    assert fast(resource) == _fhirpath_fallback(DECEASED)(resource)


def test_roots_name_the_top_level_elements_an_expression_reads() -> None:
    from fhircrm.fhir.search.paths import expression_roots

    assert expression_roots("Task.owner", "Task") == frozenset({"owner"})
    assert expression_roots("Patient.deceased.exists() and Patient.deceased != false", "Patient") == {"deceased"}
    assert expression_roots("(Observation.value as Quantity) | Observation.component.value", "Observation") == {
        "value",
        "component",
    }
    assert expression_roots("Resource.meta.tag", "Task") == frozenset({"meta"})
    assert expression_roots("Patient.name.where(use = %resource.x).family", "Patient") == frozenset({"name"})
    assert expression_roots("%resource.descendants()", "Patient") is None


def test_changed_elements_ignore_what_the_server_stamps_in_meta() -> None:
    from fhircrm.fhir.diff import changed_elements

    before = {"resourceType": "Task", "id": "t", "meta": {"versionId": "1", "lastUpdated": "x"}, "status": "ready"}
    after = {**before, "meta": {"versionId": "2", "lastUpdated": "y"}, "status": "completed", "note": [{"text": "ok"}]}
    assert changed_elements(before, after) == {"status", "note"}
    tagged = {**after, "meta": {**after["meta"], "tag": [{"code": "x"}]}}
    assert changed_elements(after, tagged) == {"meta"}
    assert changed_elements(None, after) is None
