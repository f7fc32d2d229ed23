"""Audit of the workspace's refused pages: like a refused API request, an AuditEvent in a transaction of its own
(the page's own was rolled back), naming who was refused and, on patient pages, which patient they asked for."""

from __future__ import annotations

import logging

from fastapi import Request

from fhircrm.audit.record import Outcome, record
from fhircrm.audit.requests import build, interaction_of
from fhircrm.fhir.store import ID_PATTERN

log = logging.getLogger(__name__)


async def audit_refusal(request: Request, status: int) -> None:
    engine = getattr(request.app.state, "engine", None)
    interaction = interaction_of(request)
    if engine is None or interaction is None:
        return
    patient = request.path_params.get("patient_id")
    valid = isinstance(patient, str) and ID_PATTERN.match(patient)
    asked = [{"resourceType": "Patient", "id": patient}] if valid else []
    audit = build(
        request, interaction, Outcome.MINOR_FAILURE, accessed=asked, status=status, description=f"{status} forbidden"
    )
    try:
        async with engine.begin() as conn:
            await record(conn, audit)
    except Exception as exc:  # never turn a refusal into a 500; the log says an audit record was lost
        log.error("could not record the audit of a refused page (%s)", type(exc).__name__)
