"""Validation errors that never quote what was submitted: a field can hold a name, a phone number or a message,
and an OperationOutcome ends up in client logs. The diagnostics say what is wrong and ``expression`` says where."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from fhircrm.errors import BadRequest, FhircrmError

MIN_QUOTED = 2  # shorter inputs ("a", "1") cannot identify anyone and appear in ordinary words


def without_input(message: str, value: Any) -> str:
    """``message`` with any occurrence of the submitted ``value`` (scalars, or the scalars in a list/dict)
    replaced by ``<value>``."""
    for text in _scalars(value):
        if len(text) >= MIN_QUOTED and text in message:
            message = message.replace(text, "<value>")
    return message


def _scalars(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield str(value)


def location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_refusal(errors: Sequence[dict[str, Any]]) -> BadRequest:
    """FastAPI's request validation errors as a 400 (pydantic messages, inputs taken out)."""
    if not errors:
        return BadRequest("invalid request")
    first = errors[0]
    message = without_input(str(first.get("msg", "bad input")), first.get("input"))
    where = location(first.get("loc", ()))
    return BadRequest(f"invalid request: {message}" + (f" ({where})" if where else ""), expression=where or None)


def redact_submitted(error: FhircrmError, submitted: Iterable[str]) -> FhircrmError:
    """The same refusal with any submitted value (search parameters in the URL, form fields) taken out of its
    diagnostics: a search by name or phone that fails must not quote the name or phone back."""
    values = [v for v in submitted if len(v) >= MIN_QUOTED]
    if not values or error.status >= 500:
        return error
    issues = []
    for issue in error.issues:
        diagnostics = issue.diagnostics
        for value in sorted(values, key=len, reverse=True):
            if value in diagnostics:
                diagnostics = diagnostics.replace(value, "<value>")
        issues.append(replace(issue, diagnostics=diagnostics))
    error.issues = issues
    return error
