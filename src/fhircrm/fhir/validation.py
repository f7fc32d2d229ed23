"""What every write and ``$validate`` check: a resource against the official R4 definitions (elements,
cardinalities, types, formats, required bindings: ``fhircrm.fhir.validator``), then the invariants of its type
(``fhircrm.fhir.invariants``). Refusals are 422 with one issue per problem, each naming its element.
"""

from __future__ import annotations

from fhircrm.errors import Issue, Unprocessable
from fhircrm.fhir.invariants import invariant_issues
from fhircrm.fhir.validator import structure_issues


def issues(resource: dict, keys: frozenset[str] | None = None, *, every_type: bool = False) -> list[Issue]:
    """Every problem of ``resource``; the invariants only when its structure is sound (they assume it), and
    on writes only for the types ``fhircrm.fhir.invariants.WRITE_CHECKED`` names (``every_type``: all)."""
    found = structure_issues(resource, keys)
    return found or invariant_issues(resource, every_type=every_type)


def validate(resource: dict) -> None:
    """Raise Unprocessable (422) with one issue per problem, each pointing at its element."""
    found = issues(resource)
    if found:
        raise Unprocessable(f"{resource.get('resourceType')} failed validation", issues=found)


def validate_change(content: dict, previous: dict, changed: frozenset[str]) -> None:
    """Validate an update of a stored (hence already valid) resource: the changed top-level elements in full,
    the required elements and choices as they are now, and the invariants over the whole resource (they may
    read several elements). An update is refused only for an invariant it breaks that the stored version kept:
    a copy the EHR mirror stored as the EHR has it, or a resource stored before its type's invariants were
    checked, can still be changed in other ways (its status cancelled, a participant's answer recorded)."""
    found = structure_issues(content, changed)
    if not found:
        found = invariant_issues(content)
        if found:
            kept = {issue.diagnostics for issue in invariant_issues(previous)}
            found = [issue for issue in found if issue.diagnostics not in kept]
    if found:
        raise Unprocessable(f"{content.get('resourceType')} failed validation", issues=found)
