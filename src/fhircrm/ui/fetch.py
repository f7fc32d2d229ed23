"""Small read helpers over the store for the screens: every page of a search, references, FHIR instants."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fhircrm.fhir.paging import every_match
from fhircrm.fhir.store import FhirStore

log = logging.getLogger(__name__)


async def all_of(store: FhirStore, resource_type: str, params: list[tuple[str, str]], limit: int = 5000) -> list[dict]:
    """Every match up to ``limit`` (paged by ``_offset``), for screens that list; counts belong in the database
    (``fhircrm.indicators``): a truncated list is logged, never silently taken for the whole."""
    found = await every_match(store, resource_type, params, limit=limit)
    if len(found) >= limit:
        log.warning("all_of stopped at its limit", extra={"resource_type": resource_type, "limit": limit})
    return found


def ref_id(reference: dict | str | None, resource_type: str | None = None) -> str | None:
    value = reference.get("reference") if isinstance(reference, dict) else reference
    if not value or "/" not in value:
        return None
    kind, _, ident = value.rpartition("/")
    kind = kind.rsplit("/", 1)[-1]
    return ident if resource_type in (None, kind) else None


def parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if len(value) == 10:  # a date: midnight UTC
        moment = moment.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def instant(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def code(concept: dict | None, system: str | None = None) -> str | None:
    for coding in (concept or {}).get("coding", []):
        if system is None or coding.get("system") == system:
            return coding.get("code")
    return None


def display(concept: dict | None) -> str:
    if not concept:
        return ""
    for coding in concept.get("coding", []):
        if coding.get("display"):
            return coding["display"]
    return concept.get("text") or code(concept) or ""


def human_name(patient: dict | None) -> str:
    names = (patient or {}).get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if name.get("text"):
        return name["text"]
    return " ".join([*name.get("given", []), name.get("family", "")]).strip() or "(no name)"
