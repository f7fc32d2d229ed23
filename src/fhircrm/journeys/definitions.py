"""The journey model and its YAML form.

```yaml
id: appointment
title: Appointment confirmation and reminders
triggers:                 # ("on" would read as a boolean in YAML 1.1)
  - events: [AppointmentBooked]
    when: [service-line in cardiology,primary-care]     # optional, checked when the event arrives
    steps:
      - id: confirm
        action: send-message
        template: appointment-confirmation
        purpose: appointment-reminders
        at: start - 72h          # or "event + 2h"; absent: now
        late: send               # when the time has passed: send now (default) or skip
        when: [risk = high]      # checked when planning
        check: [appointment-unconfirmed]   # checked again when the timer fires
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import yaml

from fhircrm.errors import JourneyError
from fhircrm.events import EventName
from fhircrm.journeys.conditions import parse_condition

ACTIONS = frozenset(
    {"send-message", "send-survey", "create-task", "set-task-due", "offer-waitlist", "revoke-timers", "set-risk"}
)
ANCHORS = frozenset({"start", "event"})
UNITS = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days", "wk": "weeks"}
_AT = re.compile(r"^\s*(start|event)\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*(s|min|h|d|wk))?\s*$")
_STEP_KEYS = frozenset({"id", "action", "at", "late", "when", "check", "title"})


@dataclass(frozen=True, slots=True)
class Timing:
    anchor: str  # start (the appointment's start) | event (when the event happened)
    offset: timedelta

    @property
    def text(self) -> str:
        hours = self.offset.total_seconds() / 3600
        sign = "-" if hours < 0 else "+"
        return f"{self.anchor} {sign} {abs(hours):g}h"


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    action: str
    params: dict[str, str] = field(default_factory=dict)
    at: Timing | None = None
    late: str = "send"  # send | skip
    when: tuple[str, ...] = ()
    check: tuple[str, ...] = ()
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    events: tuple[str, ...]
    steps: tuple[Step, ...]
    when: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Journey:
    id: str
    title: str
    triggers: tuple[Trigger, ...]
    version: str = "1"
    status: str = "active"
    description: str | None = None

    def step(self, step_id: str) -> Step | None:
        return next((s for t in self.triggers for s in t.steps if s.id == step_id), None)


def parse_timing(text: str, *, where: str) -> Timing:
    match = _AT.match(str(text))
    if not match:
        raise JourneyError(f"{where}: 'at' must look like 'start - 72h' or 'event + 2h', not {text!r}")
    anchor, sign, amount, unit = match.groups()
    offset = timedelta(**{UNITS[unit]: float(amount)}) if amount else timedelta()
    return Timing(anchor, -offset if sign == "-" else offset)


def _conditions(value: object, *, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    for item in items:
        parse_condition(str(item), where=where)
    return tuple(str(item) for item in items)


def _step(raw: dict, *, where: str) -> Step:
    if not isinstance(raw, dict) or "id" not in raw or "action" not in raw:
        raise JourneyError(f"{where}: a step needs an id and an action")
    where = f"{where} step {raw['id']}"
    if raw["action"] not in ACTIONS:
        raise JourneyError(f"{where}: unknown action {raw['action']!r} (known: {', '.join(sorted(ACTIONS))})")
    if raw.get("late", "send") not in ("send", "skip"):
        raise JourneyError(f"{where}: late must be send or skip")
    params = {k: str(v) for k, v in raw.items() if k not in _STEP_KEYS}
    return Step(
        id=str(raw["id"]),
        action=raw["action"],
        params=params,
        at=parse_timing(raw["at"], where=where) if raw.get("at") is not None else None,
        late=raw.get("late", "send"),
        when=_conditions(raw.get("when"), where=where),
        check=_conditions(raw.get("check"), where=where),
        title=raw.get("title"),
    )


def journey_from_dict(raw: dict) -> Journey:
    if not isinstance(raw, dict) or not raw.get("id") or not isinstance(raw.get("triggers"), list):
        raise JourneyError("a journey needs an id and a list of triggers")
    journey_id = str(raw["id"])
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,50}", journey_id):
        raise JourneyError(f"journey id {journey_id!r}: lowercase letters, digits and dashes only")
    triggers, seen = [], set()
    for i, trig in enumerate(raw["triggers"]):
        where = f"journey {journey_id} trigger {i + 1}"
        events = trig.get("events") or ([trig["event"]] if trig.get("event") else [])
        for name in events:
            if name not in {e.value for e in EventName}:
                raise JourneyError(f"{where}: unknown event {name!r}")
        steps = tuple(_step(s, where=where) for s in trig.get("steps", []))
        for step in steps:
            if step.id in seen:
                raise JourneyError(f"{where}: step id {step.id!r} is used twice")
            seen.add(step.id)
        triggers.append(Trigger(tuple(events), steps, _conditions(trig.get("when"), where=where)))
    return Journey(
        id=journey_id,
        title=str(raw.get("title", journey_id)),
        triggers=tuple(triggers),
        version=str(raw.get("version", "1")),
        status=str(raw.get("status", "active")),
        description=raw.get("description"),
    )


def parse_journey(text: str) -> Journey:
    """A journey from its YAML text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise JourneyError(f"not valid YAML: {exc}") from None
    return journey_from_dict(raw)
