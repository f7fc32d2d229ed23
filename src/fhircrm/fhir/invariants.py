"""The FHIRPath invariants (severity error) of the official R4 definitions, evaluated with fhirpathpy.

Writes check the invariants of the types fhircrm owns and its clients write (``WRITE_CHECKED``); ``$validate``
those of every type. A refusal is a 422 whose issue names the invariant's key, its human text from the
definition and the element (``Appointment.participant[1]``), never the submitted value.

Copies of EHR data written by the mirror (``fhircrm.ehr.mirror``) are not checked: the EHR is the source of truth
for what it sends, and a refused copy would leave the old one in place (a reminder for a time that has moved), so
the mirror stores what the EHR holds: it writes its copy inside ``mirrored(type, id)``, which exempts that one
resource for that write (a context variable: nothing else the write leads to). Everything else is checked: REST, batch,
transaction, ``$import`` and ``fhircrm import`` (a refused line is reported), fhircrm's own services.

Cost: fhirpathpy interprets an expression at 0.2-1.5 ms (benchmarks/validation.py), tens of times the structural
walk, so an invariant is evaluated only where it could fail:

- on a backbone element (``Appointment.participant``): once per occurrence, nothing when the element is absent;
- the ``dom-*`` invariants are about contained resources: only when there are some;
- ``_COULD_FAIL`` gives, for the invariants of ``WRITE_CHECKED`` types, a test on the element's own keys that
  is true whenever the expression could be false (``app-4`` needs a ``cancelationReason``); the expression it
  was read from is pinned beside it, so a changed definition is evaluated in full rather than guessed at.

An invariant fhirpathpy cannot parse or evaluate is skipped (never a refusal nor a 500).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

from fhirpathpy import apply_parsed_path
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models as fhirpath_models
from fhirpathpy.parser import parse

from fhircrm.errors import Issue
from fhircrm.fhir.structure import definitions

log = logging.getLogger(__name__)

#: Types whose invariants every write checks: what fhircrm owns and its clients write. Most cost nothing on a
#: usual resource (Communication and CommunicationRequest have only ``dom-*``; Patient's ``pat-1`` sits on
#: ``contact``); ``_COULD_FAIL`` spares the others' expressions where the elements they restrict are absent.
WRITE_CHECKED: frozenset[str] = frozenset(
    {
        "Appointment",
        "Communication",
        "CommunicationRequest",
        "Consent",
        "Patient",
        "Questionnaire",
        "QuestionnaireResponse",
        "Task",
    }
)

_Keys = Callable[[dict], bool]


def _has(*names: str) -> _Keys:
    return lambda item: all(name in item for name in names)


def _has_any(*names: str) -> _Keys:
    return lambda item: any(name in item for name in names)


def _lacks(*names: str) -> _Keys:
    return lambda item: not any(name in item for name in names)


_DATE_TIME = re.compile(r"\d{4}(-\d\d(-\d\d(T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d))?)?)?")


def _in_order(earlier: object, later: object) -> bool:
    """True when two dateTimes of one shape (length, precision, offset) are in order: then the text order is the
    time order. False when it cannot tell so cheaply (fhirpathpy decides)."""
    if not isinstance(earlier, str) or not isinstance(later, str) or len(earlier) != len(later):
        return False
    first, second = _DATE_TIME.fullmatch(earlier), _DATE_TIME.fullmatch(later)
    if first is None or second is None or first.group(5) != second.group(5):
        return False
    return earlier <= later


#: (path, key) -> (the expression as read, a test on the element's keys that is true whenever it could be false).
#: Used only while the definitions carry that very expression.
_COULD_FAIL: dict[tuple[str, str], tuple[str, _Keys]] = {
    ("Appointment", "app-2"): ("start.exists() = end.exists()", lambda a: ("start" in a) != ("end" in a)),
    (
        "Appointment",
        "app-3",
    ): (
        "(start.exists() and end.exists()) or (status in ('proposed' | 'cancelled' | 'waitlist'))",
        lambda a: "start" not in a or "end" not in a,
    ),
    (
        "Appointment",
        "app-4",
    ): (
        "Appointment.cancelationReason.exists() implies (Appointment.status='no-show' or "
        "Appointment.status='cancelled')",
        _has("cancelationReason"),
    ),
    ("Appointment.participant", "app-1"): ("type.exists() or actor.exists()", _lacks("type", "actor")),
    ("Consent", "ppc-1"): ("policy.exists() or policyRule.exists()", _lacks("policy", "policyRule")),
    **{
        ("Consent", f"ppc-{n}"): (
            f"patient.exists() or scope.coding.where(system='something' and code='{code}').exists().not()",
            _lacks("patient"),
        )
        for n, code in ((2, "patient-privacy"), (3, "research"), (4, "adr"), (5, "treatment"))
    },
    (
        "Patient.contact",
        "pat-1",
    ): (
        "name.exists() or telecom.exists() or address.exists() or organization.exists()",
        _lacks("name", "telecom", "address", "organization"),
    ),
    (
        "Task",
        "inv-1",
    ): (
        "lastModified.exists().not() or authoredOn.exists().not() or lastModified >= authoredOn",
        lambda task: (
            "lastModified" in task and "authoredOn" in task and not _in_order(task["authoredOn"], task["lastModified"])
        ),
    ),
    ("QuestionnaireResponse.item", "qrs-1"): ("(answer.exists() and item.exists()).not()", _has("answer", "item")),
    (
        "Questionnaire.item",
        "que-1",
    ): (
        "(type='group' implies item.empty().not()) and "
        "(type.trace('type')='display' implies item.trace('item').empty())",
        lambda item: item.get("type") in ("group", "display"),
    ),
    ("Questionnaire.item", "que-3"): ("type!='display' or code.empty()", _has("code")),
    ("Questionnaire.item", "que-4"): (
        "answerOption.empty() or answerValueSet.empty()",
        _has("answerOption", "answerValueSet"),
    ),
    (
        "Questionnaire.item",
        "que-5",
    ): (
        "(type ='choice' or type = 'open-choice' or type = 'decimal' or type = 'integer' or type = 'date' or "
        "type = 'dateTime' or type = 'time' or type = 'string' or type = 'quantity') or (answerValueSet.empty() "
        "and answerOption.empty())",
        _has_any("answerValueSet", "answerOption"),
    ),
    ("Questionnaire.item", "que-6"): (
        "type!='display' or (required.empty() and repeats.empty())",
        _has_any("required", "repeats"),
    ),
    ("Questionnaire.item", "que-8"): ("(type!='group' and type!='display') or initial.empty()", _has("initial")),
    ("Questionnaire.item", "que-9"): ("type!='display' or readOnly.empty()", _has("readOnly")),
    (
        "Questionnaire.item",
        "que-10",
    ): (
        "(type in ('boolean' | 'decimal' | 'integer' | 'string' | 'text' | 'url' | 'open-choice')) or "
        "maxLength.empty()",
        _has("maxLength"),
    ),
    ("Questionnaire.item", "que-11"): ("answerOption.empty() or initial.empty()", _has("answerOption", "initial")),
    (
        "Questionnaire.item",
        "que-12",
    ): (
        "enableWhen.count() > 2 implies enableBehavior.exists()",
        lambda item: isinstance(item.get("enableWhen"), list) and len(item["enableWhen"]) > 2,
    ),
    ("Questionnaire.item", "que-13"): ("repeats=true or initial.count() <= 1", _has("initial")),
    (
        "Questionnaire.item.enableWhen",
        "que-7",
    ): ("operator = 'exists' implies (answer is Boolean)", lambda when: when.get("operator") == "exists"),
}


def _always(_item: dict) -> bool:
    return True


#: the resources (type, id) the EHR mirror is writing in this task: copies of the EHR's, not checked
_MIRRORED: ContextVar[frozenset[tuple[str, str]]] = ContextVar("fhircrm_mirrored", default=frozenset())


@contextmanager
def mirrored(resource_type: str, fhir_id: str) -> Iterator[None]:
    """Within it, writes of ``resource_type/fhir_id`` skip the invariants: the EHR mirror's copy of the EHR's
    resource (``fhircrm.ehr.mirror``), the one exemption."""
    token = _MIRRORED.set(_MIRRORED.get() | {(resource_type, fhir_id)})
    try:
        yield
    finally:
        _MIRRORED.reset(token)


#: a few R4 invariants call trace(): fhirpathpy would print their values (PHI) to stdout
_QUIET = {"traceFn": lambda *_args, **_kwargs: None}


@dataclass(frozen=True, slots=True)
class Invariant:
    key: str
    path: str  # where it applies: the type, or a backbone element's path
    steps: tuple[str, ...]  # JSON keys from the resource to the element
    human: str
    parsed: object
    could_fail: _Keys = _always  # false: the invariant holds for this element without evaluating it


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
            pinned = _COULD_FAIL.get((path, key))
            could_fail = pinned[1] if pinned is not None and pinned[0] == expression else _always
            out.append(Invariant(key, path, steps, human, parsed, could_fail))
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


def invariant_issues(resource: dict, *, every_type: bool = False, shortcuts: bool = True) -> list[Issue]:
    """One issue per invariant that a value of ``resource`` breaks (its key, human text and element);
    ``shortcuts=False`` evaluates every invariant, ``_COULD_FAIL`` or not (the tests compare the two)."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or (not every_type and resource_type not in WRITE_CHECKED):
        return []
    if not every_type and (resource_type, resource.get("id")) in _MIRRORED.get():
        return []
    model = fhirpath_models["r4"]
    context = {"resource": resource, "rootResource": resource}
    found: list[Issue] = []
    for invariant in invariants(resource_type):
        if invariant.key.startswith("dom-") and not resource.get("contained"):
            continue
        for item, where in _items(resource, invariant.steps, resource_type):
            if shortcuts and isinstance(item, dict) and not invariant.could_fail(item):
                continue
            try:
                # the resource itself as it is: as a node, a path starting with its type (``Appointment.status``,
                # app-4) finds nothing
                node = ResourceNode.create_node(item, invariant.path) if invariant.steps else item
                result = apply_parsed_path(node, invariant.parsed, context, model, _QUIET)
            except Exception:  # fhirpathpy's own gaps: skip, never refuse for them
                continue
            if result == [False]:
                found.append(
                    Issue(f"{where}: {invariant.human} ({invariant.key})", code="invariant", expression=(where,))
                )
    return found
