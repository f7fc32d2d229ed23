"""The small condition vocabulary journeys use (a declared vocabulary rather than free FHIRPath: every
condition is checked when the journey is loaded, and each one maps to one question about the patient).

Forms: ``name`` (a flag), ``name = value``, ``name != value``, ``name in a,b,c``.

When planning (``when``): risk, service-line, language, priority, task-code, confirmed, unconfirmed, first-visit,
chronic. When a deferred step fires (``check``): appointment-unconfirmed, appointment-booked, no-reply-since-event,
no-appointment-since-event, task-open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fhircrm.errors import JourneyError

if TYPE_CHECKING:
    from fhircrm.journeys.context import JourneyContext

VALUED = frozenset({"risk", "service-line", "language", "priority", "task-code"})
FLAGS = frozenset(
    {
        "confirmed",
        "unconfirmed",
        "first-visit",
        "chronic",
        "appointment-unconfirmed",
        "appointment-booked",
        "no-reply-since-event",
        "no-appointment-since-event",
        "task-open",
    }
)
_FORM = re.compile(r"^\s*([a-z-]+)\s*(?:(=|!=|\bin\b)\s*(.+?))?\s*$")


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    op: str | None = None
    values: tuple[str, ...] = ()


def parse_condition(text: str, *, where: str = "condition") -> Condition:
    match = _FORM.match(text)
    if not match:
        raise JourneyError(f"{where}: cannot read condition {text!r}")
    name, op, value = match.groups()
    if name in FLAGS and op is None:
        return Condition(name)
    if name in VALUED and op is not None:
        values = tuple(v.strip() for v in value.split(",")) if op == "in" else (value.strip(),)
        return Condition(name, op, values)
    raise JourneyError(f"{where}: unknown condition {text!r} (flags: {sorted(FLAGS)}; values: {sorted(VALUED)})")


async def holds(text: str, ctx: JourneyContext) -> bool:
    condition = parse_condition(text)
    if condition.op is None:
        return await ctx.flag(condition.name)
    actual = await ctx.value(condition.name)
    inside = actual is not None and actual in condition.values
    return not inside if condition.op == "!=" else inside


async def all_hold(conditions: tuple[str, ...], ctx: JourneyContext) -> bool:
    for text in conditions:
        if not await holds(text, ctx):
            return False
    return True
