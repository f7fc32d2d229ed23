"""An ``AuditRecord`` as a FHIR R4 AuditEvent (the shape the FHIR RESTful audit profile describes)."""

from __future__ import annotations

import base64

from fhircrm.audit.record import ACTIONS, AuditRecord
from fhircrm.fhir import references

REST_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
LOGIN_TYPE = {
    "system": "http://dicom.nema.org/resources/ontology/DCM",
    "code": "110114",
    "display": "User Authentication",
}
INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
ENTITY_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"


def _reference(value: str) -> dict:
    return {"reference": value}


def _is_reference(value: str) -> bool:
    return "/" in value and references.is_valid(value) and not value.startswith("#")


def unrecordable(audit: AuditRecord) -> dict:
    """The AuditEvent of a record whose details the store refused (a reference of a form it cannot keep): what
    happened, when, the outcome and the status, without the entities and the agent's identity that failed."""
    event = audit_event(
        AuditRecord(
            interaction=audit.interaction,
            outcome=audit.outcome,
            recorded=audit.recorded,
            client_id=audit.client_id,
            source_ip=audit.source_ip,
            status=audit.status,
            description=f"{audit.description or ''} (details not recordable)".strip(),
        )
    )
    return event


def audit_event(audit: AuditRecord) -> dict:
    action, subtype = ACTIONS.get(audit.interaction, ("E", "operation"))
    agent: dict = {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                    "code": "humanuser" if audit.user else "dataprocessor",
                }
            ]
        },
        "requestor": True,
        "altId": audit.client_id,
    }
    if audit.user:
        # a token's fhirUser or sub: a Reference only when it has a reference's form, else the store refuses it
        agent["who"] = _reference(audit.user) if _is_reference(audit.user) else {"identifier": {"value": audit.user}}
    else:
        agent["who"] = {"display": audit.client_id or "anonymous"}
    if audit.source_ip:
        agent["network"] = {"address": audit.source_ip, "type": "2"}
    agent = {k: v for k, v in agent.items() if v is not None}
    entities = [{"what": _reference(ref), "type": {"system": ENTITY_TYPE, "code": "2"}} for ref in audit.entities]
    if entities and (details := audit.extra.get("details")):  # e.g. a role as it was and as it became
        entities[0]["detail"] = [{"type": name, "valueString": str(value)} for name, value in details.items()]
    entities += [
        {
            "what": _reference(ref),
            "type": {"system": ENTITY_TYPE, "code": "1"},
            "role": {"system": ENTITY_ROLE, "code": "1"},
        }
        for ref in audit.patients
        if ref not in audit.entities
    ]
    if audit.query is not None:
        query_entity: dict = {"type": {"system": ENTITY_TYPE, "code": "2"}}
        if audit.query:  # a search without parameters is still a query; an empty base64Binary is not valid FHIR
            query_entity["query"] = base64.b64encode(audit.query.encode()).decode()
        if audit.resource_type:
            query_entity["description"] = audit.resource_type
        entities.append(query_entity)
    event: dict = {
        "resourceType": "AuditEvent",
        "type": LOGIN_TYPE if audit.interaction == "login" else REST_TYPE,
        "subtype": [{"system": INTERACTION_SYSTEM, "code": subtype}],
        "action": action,
        "recorded": audit.recorded,
        "outcome": str(int(audit.outcome)),
        "agent": [agent],
        "source": {
            "observer": {"display": "fhircrm"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "3"}],
        },
    }
    if audit.description:
        event["outcomeDesc"] = audit.description
    if entities:
        event["entity"] = entities
    return event
