"""Bulk Data export: what a kick-off asks for, checked under the caller's access, and the worker's steps.

Every step reads through a store rebuilt from the kick-off's recorded caller (``jobs.caller_store``: the same
``SmartPolicy`` a request of that client gets today), type by type, each a search of the type under the caller's
policy (``fhircrm.fhir.exports``): a system export needs what a system-level search needs, a Patient export
holds the compartments of the patients the caller reaches, a Group export those of the group's members the
caller reaches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.bulk import jobs
from fhircrm.config import Settings
from fhircrm.ehr.objections import denies_disclosure
from fhircrm.errors import BadRequest, Forbidden, NotFound
from fhircrm.fhir import exports
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.references import split
from fhircrm.fhir.resource_types import PATIENT_COMPARTMENT, RESOURCE_TYPE_SET, RESOURCE_TYPES
from fhircrm.fhir.search.dates import InvalidDate, date_range
from fhircrm.fhir.store import FhirStore, now
from fhircrm.jobs.queue import Job, utcnow
from fhircrm.security.consent import ENGAGEMENT_TYPES
from fhircrm.stores import open_store
from fhircrm.subscriptions.owners import OwnerRefused

log = logging.getLogger(__name__)

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
PARAMETERS = frozenset({"_type", "_since", "_typeFilter", "_outputFormat"})
#: a Patient or Group export: the Patient compartment's types (the R4 CompartmentDefinition)
#: a patient's objection to sharing hides these types of theirs from exports, as from ``$everything``
CONSENT_HIDES = frozenset(ENGAGEMENT_TYPES)
CONSENT_LOOKUP = ServiceScope("consent")
COMPARTMENT_TYPES: tuple[str, ...] = tuple(t for t in RESOURCE_TYPES if t == "Patient" or t in PATIENT_COMPARTMENT)


@dataclass(frozen=True, slots=True)
class Request:
    level: str  # system | patient | group
    group: str | None
    types: tuple[str, ...]
    since: datetime | None
    filters: dict[str, list[list[tuple[str, str]]]]


def parse(level: str, pairs: Sequence[tuple[str, str]], group: str | None = None) -> Request:
    """The kick-off's parameters, each refused with a 400 naming it when it is not what Bulk Data allows."""
    unknown = sorted({name for name, _ in pairs} - PARAMETERS)
    if unknown:
        raise BadRequest(f"unsupported $export parameter: {unknown[0][:64]}", expression=unknown[0][:64])
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    for value in values.get("_outputFormat", []):
        if value not in OUTPUT_FORMATS:
            raise BadRequest(
                f"_outputFormat {value[:64]!r} is not supported: use application/fhir+ndjson",
                expression="_outputFormat",
            )
    allowed = COMPARTMENT_TYPES if level != "system" else RESOURCE_TYPES
    types: list[str] = []
    for value in values.get("_type", []):
        for name in (t.strip() for t in value.split(",")):
            if not name:
                continue
            if name not in RESOURCE_TYPE_SET:
                raise BadRequest(f"unknown resource type in _type: {name[:64]}", expression="_type")
            if name not in allowed:
                raise BadRequest(
                    f"{name} is not in the Patient compartment: a {level} export holds none", expression="_type"
                )
            if name not in types:
                types.append(name)
    since = None
    if values.get("_since"):
        try:
            since = date_range(values["_since"][-1])[0]
        except InvalidDate:
            raise BadRequest("_since must be a FHIR instant", expression="_since") from None
    filters: dict[str, list[list[tuple[str, str]]]] = {}
    for value in values.get("_typeFilter", []):
        for item in _split_filters(value):
            resource_type, _, query = item.partition("?")
            if resource_type not in RESOURCE_TYPE_SET:
                raise BadRequest(
                    f"_typeFilter names an unknown resource type: {resource_type[:64]}", expression="_typeFilter"
                )
            if types and resource_type not in types:
                raise BadRequest(f"_typeFilter on {resource_type}, which _type leaves out", expression="_typeFilter")
            filters.setdefault(resource_type, []).append(exports.check_type_filter(resource_type, query))
    return Request(level, group, tuple(types) or allowed, since, filters)


def _split_filters(value: str) -> list[str]:
    """``_typeFilter`` values may be repeated or comma-joined: a comma before ``Type?`` starts a new one."""
    parts: list[str] = []
    for piece in value.split(","):
        head = piece.split("?", 1)[0]
        if parts and not (head in RESOURCE_TYPE_SET and "?" in piece):
            parts[-1] += "," + piece
        else:
            parts.append(piece)
    return [p for p in parts if p]


async def plan(store: FhirStore, request: Request) -> tuple[dict, dict]:
    """Check the kick-off under the caller's access and return the job's (params, cursor).

    A system export needs system-level search (the access table's system-level row); a Patient export needs
    Patient search; a Group export reads the group. Types the caller may not search at all are left out when
    the request did not name them, and refused when it did."""
    if request.level == "system":
        store.unrestricted("search-system", "Resource")
    elif request.level == "patient":
        store.branches("search", "Patient")
    else:
        await store.read("Group", request.group or "")
    named = request.types not in (RESOURCE_TYPES, COMPARTMENT_TYPES)
    types: list[str] = []
    for resource_type in request.types:
        try:
            store.branches("search", resource_type)
        except Forbidden:
            if named:
                raise
            continue
        types.append(resource_type)
    params = {
        "level": request.level,
        "group": request.group,
        "types": types,
        "since": request.since.isoformat() if request.since else None,
        "filters": {t: [[list(p) for p in pairs] for pairs in f] for t, f in request.filters.items()},
    }
    return params, {"index": 0, "after": 0}


def transaction_time() -> datetime:
    return now()


# --- the worker's steps ---------------------------------------------------------------------------------------


def install_steps(settings: Settings):  # type: ignore[no-untyped-def]
    """The ``bulk.export`` job handler for these settings."""

    async def handle(conn: AsyncConnection, job: Job) -> None:
        await run_step(conn, settings, job.payload["job"])

    return handle


async def run_step(conn: AsyncConnection, settings: Settings, job_id: str) -> None:
    """One step: up to ``bulk_step_resources`` resources from the cursor on, one file per type touched."""
    job = await jobs.load(conn, job_id, for_update=True)
    if job is None or job.status != "running":
        return  # cancelled, expired or already done: a late step does nothing
    try:
        store = await jobs.caller_store(conn, settings, job.owner)
    except OwnerRefused:
        await jobs.fail(conn, job, jobs.OWNER_GONE, settings)
        return
    params, cursor = job.params, dict(job.cursor)
    types: list[str] = params["types"]
    since = datetime.fromisoformat(params["since"]) if params.get("since") else None
    patients = await _patients(store, params)
    budget, written = settings.bulk_step_resources, 0
    index, after = int(cursor.get("index", 0)), int(cursor.get("after", 0))
    hidden = await _objecting(conn, settings, job.owner.patient) if set(types[index:]) & CONSENT_HIDES else []
    while index < len(types) and budget > 0:
        resource_type = types[index]
        filters = [[tuple(p) for p in pairs] for pairs in params["filters"].get(resource_type, [])]
        try:
            found = await exports.step(
                store,
                resource_type,
                after=after,
                limit=budget,
                until=job.transaction_time,
                since=since,
                filters=filters,
                patients=patients,
                hidden=hidden if resource_type in CONSENT_HIDES else (),
            )
        except Forbidden:  # the caller lost access to the type since the kick-off: nothing of it
            found = exports.Step([])
        await jobs.add_file(conn, job.id, "output", resource_type, [text for _, text in found.rows])
        written += len(found.rows)
        budget -= len(found.rows)
        if len(found.rows) and budget <= 0:
            after = found.last or after
            break
        index, after = index + 1, 0
    await jobs.advance(
        conn, job, {"index": index, "after": after}, written, finished=index >= len(types), settings=settings
    )


async def _objecting(conn: AsyncConnection, settings: Settings, own_patient: str | None) -> list[str]:
    """The patients whose engagement data an export leaves out (``fhircrm.security.consent``: an active Consent
    denying disclosure), but for the patient themself (a patient app's own export); read on fhircrm's behalf."""
    consents = open_store(conn, settings, policy=CONSENT_LOOKUP).select("Consent", [("status", "active")])
    at = utcnow()
    out: set[str] = set()
    for patient, provision in await consents.elements([("patient",), ("provision",)]):
        reference = (patient or {}).get("reference", "") if isinstance(patient, dict) else ""
        if reference.startswith("Patient/") and denies_disclosure(provision or {}, at):
            out.add(split(reference)[1])
    out.discard(own_patient or "")
    return sorted(out)


async def _patients(store: FhirStore, params: dict) -> exports.Patients | None:
    if params["level"] == "system":
        return None
    if params["level"] == "patient":
        return exports.reachable_patients(store)
    try:
        group = await store.read("Group", params["group"])
    except (NotFound, Forbidden):
        return []
    members = [
        split(reference)[1]
        for member in (group.content or {}).get("member", [])
        if isinstance(reference := (member.get("entity") or {}).get("reference"), str)
        and reference.startswith("Patient/")
    ]
    return await exports.reachable(store, members)
