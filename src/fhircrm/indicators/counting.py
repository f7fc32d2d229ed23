"""Counting in the database: ``_summary=count`` searches, and per-segment counts over member batches."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median

from fhircrm.fhir.store import FhirStore

BATCH = 200
PAGE = 1000


async def count(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    patients: list[str] | None = None,
    patient_param: str = "patient",
) -> int:
    """How many ``resource_type`` match; with ``patients`` (a segment's members) only theirs."""
    if patients is None:
        return (await store.search(resource_type, [*params, ("_summary", "count")])).total or 0
    total = 0
    for i in range(0, len(patients), BATCH):
        refs = ",".join(f"Patient/{p}" for p in patients[i : i + BATCH])
        total += (await store.search(resource_type, [*params, (patient_param, refs), ("_summary", "count")])).total or 0
    return total


async def fetch(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    patients: list[str] | None = None,
    patient_param: str = "patient",
) -> list[dict]:
    """Every match (paged), for the indicators that need values counts cannot give (times, groupings)."""
    batches: Iterable[list[tuple[str, str]]] = [[]]
    if patients is not None:
        batches = [
            [(patient_param, ",".join(f"Patient/{p}" for p in patients[i : i + BATCH]))]
            for i in range(0, len(patients), BATCH)
        ]
    found: list[dict] = []
    for extra in batches:
        offset = 0
        while True:
            page = await store.search(resource_type, [*params, *extra, ("_count", str(PAGE)), ("_offset", str(offset))])
            found.extend(page.matches)
            if not page.has_next or not page.matches:
                break
            offset += len(page.matches)
    return found


def rate(numerator: int, denominator: int) -> dict:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "value": round(numerator / denominator, 4) if denominator else None,
    }


def med(values: list[float]) -> float | None:
    return round(median(values), 2) if values else None
