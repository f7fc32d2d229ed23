"""Journey <-> FHIR PlanDefinition, so journeys live in the FHIR store and change through the API.

Each trigger is a top-level action (``trigger`` = named events, ``condition`` kind applicability); each step a
nested action: ``code`` (journey-action system) is what it does, ``condition`` kind applicability its ``when``
and kind start its ``check``, ``timingDuration`` its signed offset with the anchor in an extension, and its
parameters (template, purpose, role...) in journey-parameter extensions.
"""

from __future__ import annotations

from datetime import timedelta

from fhircrm.journeys.definitions import Journey, JourneyError, Step, Timing, Trigger, journey_from_dict

JOURNEY_SYSTEM = "http://fhircrm.org/journey"
ACTION_SYSTEM = "http://fhircrm.org/CodeSystem/journey-action"
ANCHOR_EXTENSION = "http://fhircrm.org/StructureDefinition/journey-anchor"
LATE_EXTENSION = "http://fhircrm.org/StructureDefinition/journey-late"
PARAMETER_EXTENSION = "http://fhircrm.org/StructureDefinition/journey-parameter"
CONDITION_LANGUAGE = "text/x-fhircrm-condition"
UCUM = "http://unitsofmeasure.org"


def plan_definition_id(journey_id: str) -> str:
    return f"journey-{journey_id}"


def _conditions(kind: str, texts: tuple[str, ...]) -> list[dict]:
    return [{"kind": kind, "expression": {"language": CONDITION_LANGUAGE, "expression": t}} for t in texts]


def _step_action(step: Step) -> dict:
    action: dict = {
        "id": step.id,
        "title": step.title or step.id,
        "code": [{"coding": [{"system": ACTION_SYSTEM, "code": step.action}]}],
    }
    extension = [
        {
            "url": PARAMETER_EXTENSION,
            "extension": [{"url": "name", "valueCode": k}, {"url": "value", "valueString": v}],
        }
        for k, v in sorted(step.params.items())
    ]
    if step.at is not None:
        extension.append({"url": ANCHOR_EXTENSION, "valueCode": step.at.anchor})
        minutes = step.at.offset.total_seconds() / 60
        action["timingDuration"] = {"value": minutes, "unit": "min", "system": UCUM, "code": "min"}
    if step.late != "send":
        extension.append({"url": LATE_EXTENSION, "valueCode": step.late})
    if extension:
        action["extension"] = extension
    conditions = _conditions("applicability", step.when) + _conditions("start", step.check)
    if conditions:
        action["condition"] = conditions
    return action


def to_plan_definition(journey: Journey) -> dict:
    actions = []
    for i, trigger in enumerate(journey.triggers):
        action: dict = {
            "id": f"trigger-{i + 1}",
            "title": "On " + ", ".join(trigger.events),
            "trigger": [{"type": "named-event", "name": name} for name in trigger.events],
            "action": [_step_action(step) for step in trigger.steps],
        }
        if trigger.when:
            action["condition"] = _conditions("applicability", trigger.when)
        actions.append(action)
    body: dict = {
        "resourceType": "PlanDefinition",
        "id": plan_definition_id(journey.id),
        "url": f"http://fhircrm.org/PlanDefinition/{plan_definition_id(journey.id)}",
        "identifier": [{"system": JOURNEY_SYSTEM, "value": journey.id}],
        "version": journey.version,
        "name": "".join(part.capitalize() for part in journey.id.split("-")) + "Journey",
        "title": journey.title,
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type", "code": "workflow-definition"}
            ]
        },
        "status": journey.status,
        "action": actions,
    }
    if journey.description:
        body["description"] = journey.description
    return body


def _texts(action: dict, kind: str) -> tuple[str, ...]:
    return tuple(c["expression"]["expression"] for c in action.get("condition", []) if c.get("kind") == kind)


def _step_dict(action: dict) -> dict:
    raw: dict = {"id": action["id"], "action": action["code"][0]["coding"][0]["code"]}
    if action.get("title") and action["title"] != action["id"]:
        raw["title"] = action["title"]
    anchor = None
    for ext in action.get("extension", []):
        if ext["url"] == PARAMETER_EXTENSION:
            parts = {e["url"]: e.get("valueCode", e.get("valueString")) for e in ext["extension"]}
            raw[parts["name"]] = parts["value"]
        elif ext["url"] == ANCHOR_EXTENSION:
            anchor = ext["valueCode"]
        elif ext["url"] == LATE_EXTENSION:
            raw["late"] = ext["valueCode"]
    if "timingDuration" in action:
        raw["at"] = Timing(anchor or "event", timedelta(minutes=float(action["timingDuration"]["value"])))
    raw["when"], raw["check"] = list(_texts(action, "applicability")), list(_texts(action, "start"))
    return raw


def from_plan_definition(resource: dict) -> Journey:
    """The journey a stored PlanDefinition describes (edited through the API or loaded from YAML)."""
    journey_id = next((i["value"] for i in resource.get("identifier", []) if i.get("system") == JOURNEY_SYSTEM), None)
    if not journey_id:
        raise JourneyError(f"PlanDefinition/{resource.get('id')} has no {JOURNEY_SYSTEM} identifier")
    triggers = []
    for action in resource.get("action", []):
        steps = [_step_dict(a) for a in action.get("action", [])]
        timings = {s["id"]: s.pop("at") for s in steps if "at" in s}
        trigger = {
            "events": [t["name"] for t in action.get("trigger", []) if t.get("type") == "named-event"],
            "when": list(_texts(action, "applicability")),
            "steps": steps,
        }
        triggers.append((trigger, timings))
    journey = journey_from_dict(
        {
            "id": journey_id,
            "title": resource.get("title", journey_id),
            "version": resource.get("version", "1"),
            "status": resource.get("status", "active"),
            "description": resource.get("description"),
            "triggers": [t for t, _ in triggers],
        }
    )
    # Offsets are read back exactly (minutes), not re-parsed from text.
    fixed = []
    for trigger, (_, timings) in zip(journey.triggers, triggers, strict=True):
        steps = tuple(
            Step(s.id, s.action, s.params, timings.get(s.id, s.at), s.late, s.when, s.check, s.title)
            for s in trigger.steps
        )
        fixed.append(Trigger(trigger.events, steps, trigger.when))
    return Journey(journey.id, journey.title, tuple(fixed), journey.version, journey.status, journey.description)


def is_journey(resource: dict) -> bool:
    return any(i.get("system") == JOURNEY_SYSTEM for i in resource.get("identifier", []))
