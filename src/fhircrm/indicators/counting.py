"""What the indicators share: a segment as a chained ``_has`` on its Group, every match of a search, rates."""

from __future__ import annotations

from statistics import median

from fhircrm.fhir.paging import every_match
from fhircrm.fhir.store import FhirStore

#: a segment's Group id: restricts counts to its current members, or None for everyone
Members = str | None


def members_param(group: Members, patient_param: str) -> list[tuple[str, str]]:
    """The segment as one chained reverse link, so the database joins membership (no batches of patient ids)."""
    if group is None:
        return []
    return [(f"{patient_param}:Patient._has:Group:active-member:_id", group)]


async def fetch(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    segment: Members = None,
    patient_param: str = "patient",
) -> list[dict]:
    """Every match (paged), for the indicators that need values counts cannot give (times, groupings)."""
    return await every_match(store, resource_type, [*params, *members_param(segment, patient_param)])


def rate(numerator: int, denominator: int) -> dict:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "value": round(numerator / denominator, 4) if denominator else None,
    }


def med(values: list[float]) -> float | None:
    return round(median(values), 2) if values else None
