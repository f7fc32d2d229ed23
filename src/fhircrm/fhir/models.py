"""The one place that imports fhir.resources: the previous validator (R4 JSON through the R4B models), kept only
to show that its replacement (``fhircrm.fhir.validation``, from the official R4 definitions) refuses at least what
it refused (``tests/fhir/test_r4_examples.py``) and to measure both (``benchmarks/validation.py``). It checks no
codes of required bindings (``gender: "x"`` passes) and cannot load the 18 R4 types R4B dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhircrm.errors import Issue, Unprocessable
from fhircrm.redaction import without_input


@cache
def model_class(resource_type: str) -> type:
    return get_fhir_model_class(resource_type)


def _expression(resource_type: str, loc: tuple) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith("function-"):  # pydantic internals in some validators
            continue
        else:
            path += f".{part}"
    return path


@dataclass(frozen=True, slots=True)
class _TopLevel:
    """JSON keys of a type's top-level elements that validation checks across elements: the required ones and
    the choices (``value[x]``: at most one of them), each with its primitive extension sibling (``_status``)."""

    required: frozenset[str]
    choices: frozenset[str]

    @property
    def carried(self) -> frozenset[str]:
        """What a partial validation takes from the previous version when unchanged: a required choice
        (``MedicationRequest.medication[x]``) is required without any one of its keys being so."""
        return self.required | self.choices


@cache
def _top_level(resource_type: str) -> _TopLevel:
    required: set[str] = set()
    choices: set[str] = set()
    for name, info in model_class(resource_type).model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        key = info.alias or name
        if info.is_required() or extra.get("element_required"):
            required |= {key, f"_{key}"}
        if extra.get("one_of_many"):
            choices |= {key, f"_{key}"}
    return _TopLevel(frozenset(required), frozenset(choices))


def validate_change(content: dict, previous: dict, changed: frozenset[str]) -> None:
    """Validate an update of a stored (hence already valid) resource by checking only what changed.

    The top-level elements of a FHIR model validate independently of each other except for required elements
    and choices, so the changed elements are checked together with the required ones and the choices (taken from
    the previous version when unchanged), and a change that touches a choice falls back to the whole resource.
    Errors name the same elements as a full validation would.
    """
    shape = _top_level(content["resourceType"])
    if changed & shape.choices:
        validate(content)
        return
    if not changed:
        return
    partial = {"resourceType": content["resourceType"], "id": content.get("id")}
    partial.update((key, previous[key]) for key in shape.carried if key in previous and key not in changed)
    partial.update((key, content[key]) for key in changed if key in content)
    validate(partial)


def validate(resource: dict) -> None:
    """Raise Unprocessable (422) with one issue per problem, each pointing at its element."""
    resource_type = resource["resourceType"]
    try:
        model_class(resource_type).model_validate(resource)
    except ValidationError as exc:
        issues = [
            Issue(
                f"{without_input(error['msg'], error.get('input'))} ({_expression(resource_type, error['loc'])})",
                code="structure" if error["type"] == "extra_forbidden" else "value",
                expression=(_expression(resource_type, error["loc"]),),
            )
            for error in exc.errors()
        ]
        raise Unprocessable(f"{resource_type} failed validation", issues=issues) from None
    except (TypeError, ValueError) as exc:
        message = without_input(str(exc), resource)  # never quote submitted values (PHI) back
        raise Unprocessable(f"{resource_type} failed validation: {message}", expression=resource_type) from None
