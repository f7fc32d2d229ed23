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
