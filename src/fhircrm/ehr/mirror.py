"""Local copies of the EHR resources engagement needs, under the EHR's own ids.

A mirrored resource keeps the EHR's id as its local id (so ``Appointment.participant`` -> ``Patient/123`` stays
intact) and as an identifier (``ehr_identifier_system``). Its EHR version and lastUpdated ride in
``meta.source`` and a meta extension, so an older copy arriving late (a retried or reordered notification)
never overwrites a newer one, and the same version twice writes nothing (no second domain event).
Writing goes through ``open_store``: the store's listeners derive the domain events in the same transaction.
The copy is validated as any write except for the R4 invariants (``fhircrm.fhir.invariants.mirrored``): the
EHR is the source of truth for what it sends, and refusing its Appointment with a start and no end (app-2) would
keep our old copy and remind the patient of a time that has moved; the invariants are fhircrm's check on what its
own clients write (``fhircrm.fhir.invariants``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.invariants import mirrored
from fhircrm.fhir.search.dates import InvalidDate, date_range
from fhircrm.fhir.store import FhirStore

MIRRORED_TYPES = (
    "Patient",
    "Appointment",
    "Slot",
    "Schedule",
    "Practitioner",
    "Location",
    "HealthcareService",
    "Encounter",
    "ServiceRequest",
    "DiagnosticReport",
    "Coverage",
    "Condition",
)
EXT_EHR_LAST_UPDATED = "https://fhircrm.dev/StructureDefinition/ehr-last-updated"


@dataclass(frozen=True, slots=True)
class MirrorResult:
    reference: str
    written: bool  # False: unchanged, stale, or not a mirrored type


def ehr_marks(content: dict | None) -> tuple[str | None, str | None]:
    """(EHR source, EHR lastUpdated) recorded on a local mirror."""
    meta = (content or {}).get("meta") or {}
    stamp = next(
        (e.get("valueInstant") for e in meta.get("extension", []) if e.get("url") == EXT_EHR_LAST_UPDATED), None
    )
    return meta.get("source"), stamp


def localize(resource: dict, ehr_base: str) -> dict:
    """Absolute references to the EHR's base become relative ones (they are the same ids here)."""
    prefix = ehr_base.rstrip("/") + "/"

    def walk(node: object) -> object:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            ref = out.get("reference")
            if isinstance(ref, str) and ref.startswith(prefix):
                out["reference"] = ref[len(prefix) :]
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(resource)  # type: ignore[return-value]


def _with_marks(resource: dict, ehr_base: str, system: str) -> dict:
    meta = dict(resource.get("meta") or {})
    version, updated = meta.pop("versionId", None), meta.pop("lastUpdated", None)
    rid = f"{ehr_base.rstrip('/')}/{resource['resourceType']}/{resource['id']}"
    meta["source"] = f"{rid}/_history/{version}" if version else rid
    extensions = [e for e in meta.get("extension", []) if e.get("url") != EXT_EHR_LAST_UPDATED]
    if updated:
        extensions.append({"url": EXT_EHR_LAST_UPDATED, "valueInstant": updated})
    if extensions:
        meta["extension"] = extensions
    identifiers = [i for i in resource.get("identifier", []) if i.get("system") != system]
    identifiers.append({"system": system, "value": resource["id"]})
    return {**resource, "meta": meta, "identifier": identifiers}


def _comparable(content: dict) -> dict:
    meta = {k: v for k, v in (content.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**content, "meta": meta}


async def mirror(store: FhirStore, resource: dict, *, ehr_base: str, system: str) -> MirrorResult:
    """Write ``resource`` (as the EHR has it) locally, unless it is older than or the same as our copy."""
    rtype, rid = resource.get("resourceType", ""), resource.get("id", "")
    reference = f"{rtype}/{rid}"
    if rtype not in MIRRORED_TYPES or not rid:
        return MirrorResult(reference, False)
    incoming = _with_marks(localize(resource, ehr_base), ehr_base, system)
    try:
        current = (await store.read(rtype, rid)).content
    except (NotFound, Gone):
        current = None
    if current is not None:
        _, ours = ehr_marks(current)
        _, theirs = ehr_marks(incoming)
        if ours and theirs and _instant_key(theirs) < _instant_key(ours):
            return MirrorResult(reference, False)  # a late, older copy
        if _comparable(current) == _comparable({**incoming, "id": rid}):
            return MirrorResult(reference, False)  # the same version again
    with mirrored(rtype, rid):
        await store.update(rtype, rid, incoming)
    return MirrorResult(reference, True)


async def forget(store: FhirStore, resource_type: str, fhir_id: str) -> bool:
    """The EHR deleted it: delete our copy (its history stays)."""
    if resource_type not in MIRRORED_TYPES:
        return False
    outcome = await store.delete(resource_type, fhir_id)
    return outcome.content is None and outcome.version > 0


def _instant_key(value: str) -> str:
    """Instants compared in UTC (offsets converted)."""
    try:
        return date_range(value)[0].isoformat()
    except InvalidDate:
        return value
