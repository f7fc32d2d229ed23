"""``_summary`` and ``_elements``: return less of each resource, marked SUBSETTED as R4 requires."""

from __future__ import annotations

from fhircrm.fhir.structure import definitions

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
_ALWAYS = ("resourceType", "id", "meta")


def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements flagged as summary in the R4 definitions (choices by their name: ``deceased``)."""
    return definitions().summary.get(resource_type, frozenset())


def _subset(resource: dict, keep: set[str]) -> dict:
    out = {k: v for k, v in resource.items() if k in keep or k in _ALWAYS}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def shape(resource: dict, *, summary: str | None, elements: tuple[str, ...]) -> dict:
    if summary in (None, "false") and not elements:
        return resource
    if summary == "true":
        keep = summary_elements(resource["resourceType"])
        return _subset(resource, {k for k in resource if k in keep or _choice_base(k) in keep})
    if summary == "text":
        return _subset(resource, {"text"})
    if summary == "data":
        return _subset(resource, {k for k in resource if k != "text"})
    prefix = resource["resourceType"] + "."
    keep = {e.removeprefix(prefix) for e in elements}  # R5 style ``Patient.name`` means ``name``
    return _subset(resource, {k for k in resource if k in keep or _choice_base(k) in keep})


def _choice_base(key: str) -> str:
    """``deceasedBoolean`` -> ``deceased``: choice elements are named without their type."""
    for i in range(1, len(key)):
        if key[i].isupper():
            return key[:i]
    return key
