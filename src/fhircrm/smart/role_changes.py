"""Changes to the PractitionerRoles that decide who reaches what (``fhircrm.smart.roles``): nobody makes them
to their own roles, and each leaves an AuditEvent that names the role as it was and as it became."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.audit.record import AuditRecord, Outcome, now_instant, record
from fhircrm.fhir.changes import Change
from fhircrm.smart.context import AccessContext
from fhircrm.smart.roles import local_reference

_INTERACTION = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def concerns(own: tuple[str, ...], role: dict | None) -> bool:
    """Whether ``role`` (a PractitionerRole) is one of ``own`` or names one of ``own`` as its practitioner."""
    if not role:
        return False
    practitioner = (role.get("practitioner") or {}) if isinstance(role.get("practitioner"), dict) else {}
    reference = practitioner.get("reference")
    named = local_reference(reference) if isinstance(reference, str) else None
    return f"PractitionerRole/{role.get('id')}" in own or (named is not None and named in own)


def summary(role: dict | None) -> str:
    """What of a PractitionerRole decides access, in one PHI-free line (references and codes only)."""
    if not role:
        return "(none)"
    codes = sorted(
        f"{coding.get('system', '')}|{coding.get('code', '')}"
        for concept in role.get("code") or []
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
        if isinstance(coding, dict)
    )
    period = role.get("period") or {}
    parts = {
        "practitioner": _refs(role.get("practitioner")),
        "codes": ",".join(codes),
        "active": str(role.get("active", True)).lower(),
        "period": f"{period.get('start', '')}..{period.get('end', '')}" if period else "",
        "organization": _refs(role.get("organization")),
        "location": _refs(role.get("location")),
        "service": _refs(role.get("healthcareService")),
    }
    return "; ".join(f"{key}={value}" for key, value in parts.items() if value)


async def audit(conn: AsyncConnection, access: AccessContext, changes: list[Change]) -> None:
    for change in changes:
        if change.resource_type != "PractitionerRole":
            continue
        await record(
            conn,
            AuditRecord(
                interaction=_INTERACTION.get(change.method, "update"),
                outcome=Outcome.SUCCESS,
                recorded=now_instant(),
                user=access.fhir_user or access.subject,
                client_id=access.client_id,
                resource_type="PractitionerRole",
                entities=(f"PractitionerRole/{change.fhir_id}",),
                description="role change",
                extra={"details": {"before": summary(change.previous), "after": summary(change.current)}},
            ),
        )


def _refs(value: object) -> str:
    items = value if isinstance(value, list) else [value]
    return ",".join(
        item["reference"] for item in items if isinstance(item, dict) and isinstance(item.get("reference"), str)
    )
