"""Journeys: what happens next for a patient, as data.

A journey is authored in YAML (``defaults/*.yaml``), compiled to a FHIR PlanDefinition and stored in the FHIR
store, where the engine reads it (so journeys change through the API, without a deploy). Triggers are domain
events; steps send messages, create Tasks, send surveys, offer freed slots to the waitlist, revoke timers or
assess no-show risk, now or at an offset from the appointment start or the event.
"""

from fhircrm.journeys.definitions import Journey, Step, Trigger, parse_journey
from fhircrm.journeys.plandefinition import from_plan_definition, to_plan_definition

__all__ = ["Journey", "Step", "Trigger", "from_plan_definition", "parse_journey", "to_plan_definition"]
