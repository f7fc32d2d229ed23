"""The one place that imports fhir.resources. Validates R4 JSON with the R4B models (close to R4 for the
types we store; the 18 types R4B dropped are not stored, see ``resource_types``).

Known R4/R4B gap: fhir.resources does not check codes of required bindings (``gender: "x"`` passes), so the
enumerations we depend on are checked by the services that use them.
"""

from __future__ import annotations

from functools import cache

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhircrm.errors import Issue, Unprocessable
from fhircrm.security.validation import without_input


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
