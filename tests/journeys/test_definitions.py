"""Journeys are data: YAML compiles to a PlanDefinition and back; bad definitions are refused with a reason."""

from __future__ import annotations

import pytest

from fhircrm.fhir import validation
from fhircrm.journeys import from_plan_definition, parse_journey, to_plan_definition
from fhircrm.journeys.definitions import JourneyError
from fhircrm.journeys.load import default_journey_files


@pytest.mark.parametrize("path", default_journey_files(), ids=lambda p: p.stem)
def test_each_shipped_journey_compiles_to_a_valid_plan_definition_and_back(path) -> None:
    journey = parse_journey(path.read_text())
    plan = to_plan_definition(journey)
    validation.validate(plan)
    assert from_plan_definition(plan) == journey


def test_an_unknown_condition_is_refused_with_the_step_named() -> None:
    text = """
id: bad
triggers:
  - events: [AppointmentBooked]
    steps:
      - {id: s1, action: send-message, template: t, when: [moon = full]}
"""
    with pytest.raises(JourneyError, match="s1"):
        parse_journey(text)


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(JourneyError, match="unknown event"):
        parse_journey("id: bad\ntriggers:\n  - events: [Tuesday]\n    steps: []\n")
