"""The FHIRPath invariants (severity error) of the official R4 definitions, evaluated with fhirpathpy.

fhirpathpy interprets each expression at 0.2-1.3 ms (benchmarks/validation.py), tens of times the cost of the
structural walk, so writes evaluate the invariants of the types in ``WRITE_CHECKED`` only and ``$validate``
those of every type. The ``dom-*`` invariants are about contained resources:
evaluated only when there are some. An invariant whose element is absent costs nothing; one fhirpathpy cannot
evaluate is skipped (never a refusal nor a 500).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from fhirpathpy import apply_parsed_path
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models as fhirpath_models
from fhirpathpy.parser import parse

from fhircrm.errors import Issue
from fhircrm.fhir.structure import definitions

log = logging.getLogger(__name__)

#: Types whose invariants every write checks. None yet: test fixtures and EHR mirrors write Appointments with a
#: start and no end (app-2), which a write-time check would refuse; ``$validate`` checks every type's. Candidates
#: once their writers are fixed: Appointment, Communication, CommunicationRequest, Consent, Patient,
#: Questionnaire, QuestionnaireResponse, Task.
WRITE_CHECKED: frozenset[str] = frozenset()


#: a few R4 invariants call trace(): fhirpathpy would print their values (PHI) to stdout
_QUIET = {"traceFn": lambda *_args, **_kwargs: None}


@dataclass(frozen=True, slots=True)
class Invariant:
    key: str
    path: str  # where it applies: the type, or a backbone element's path
    steps: tuple[str, ...]  # JSON keys from the resource to the element
    human: str
    parsed: object


@cache
def invariants(resource_type: str) -> tuple[Invariant, ...]:
    """The invariants of a type and of its backbone elements, parsed once."""
    out: list[Invariant] = []
    prefix = resource_type + "."
    for path, items in definitions().constraints.items():
        if path != resource_type and not path.startswith(prefix):
            continue
        if "[x]" in path:
            continue  # no R4 resource invariant sits on a choice element
        for key, expression, human in items:
            try:
                parsed = parse(expression)
            except Exception:  # an expression fhirpathpy cannot parse is not checked
                log.warning("invariant %s not supported by fhirpathpy", key)
                continue
            steps = tuple(path.split(".")[1:])
            out.append(Invariant(key, path, steps, human, parsed))
    return tuple(out)


def _items(resource: dict, steps: tuple[str, ...], where: str) -> list[tuple[object, str]]:
    """The values at ``steps`` with their FHIRPath (``Appointment.participant[1]``)."""
    found: list[tuple[object, str]] = [(resource, where)]
    for step in steps:
        following: list[tuple[object, str]] = []
        for item, path in found:
            value = item.get(step) if isinstance(item, dict) else None
            if isinstance(value, list):
                following.extend((v, f"{path}.{step}[{i}]") for i, v in enumerate(value))
            elif value is not None:
                following.append((value, f"{path}.{step}"))
        found = following
    return found


def invariant_issues(resource: dict, *, every_type: bool = False) -> list[Issue]:
    """One issue per invariant that a value of ``resource`` breaks (its key, human text and element)."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or (not every_type and resource_type not in WRITE_CHECKED):
        return []
    model = fhirpath_models["r4"]
    context = {"resource": resource, "rootResource": resource}
    found: list[Issue] = []
    for invariant in invariants(resource_type):
        if invariant.key.startswith("dom-") and not resource.get("contained"):
            continue
        for item, where in _items(resource, invariant.steps, resource_type):
            try:
                node = ResourceNode.create_node(item, invariant.path)
                result = apply_parsed_path(node, invariant.parsed, context, model, _QUIET)
            except Exception:  # fhirpathpy's own gaps: skip, never refuse for them
                continue
            if result == [False]:
                found.append(
                    Issue(f"{where}: {invariant.human} ({invariant.key})", code="invariant", expression=(where,))
                )
    return found
