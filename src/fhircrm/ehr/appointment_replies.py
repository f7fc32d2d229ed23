"""A patient's answer to an EHR appointment, written back to the EHR: the "C" or "X" reply reaches the schedule.

On AppointmentConfirmed and AppointmentCancelled of an Appointment mirrored from the EHR, a job reads the
EHR's current copy and changes only what the patient decided: their participant's status (accepted or
declined), and for a cancellation the Appointment's status and cancelation reason. The EHR's copy is the
base, so nothing else of ours (identifiers, local extensions) reaches it. Already so in the EHR (the EHR made
the change itself, or the job ran before): no call. A patient who objects to data sharing is not written
back, as for the other write-back. On by default when an EHR is configured
(``FHIRCRM_EHR_WRITEBACK_APPOINTMENT_REPLIES``).
"""

from __future__ import annotations

import copy
import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.errors import EhrUnavailable
from fhircrm.ehr.mirror import ehr_marks
from fhircrm.ehr.objections import objects_to_sharing
from fhircrm.errors import Gone, NotFound
from fhircrm.events import DomainEvent, EventName
from fhircrm.events.derive import CONFIRMED_URL
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.references import split
from fhircrm.jobs import Job, enqueue
from fhircrm.jobs.registry import RetryLater
from fhircrm.stores import open_store

log = logging.getLogger(__name__)
APPOINTMENT_REPLY_JOB = "ehr-appointment-reply"
EVENTS = (EventName.APPOINTMENT_CONFIRMED, EventName.APPOINTMENT_CANCELLED)
PATIENT_CANCELLED = ("http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "pat")


async def queue_reply(conn: AsyncConnection, event: DomainEvent) -> None:
    """One job per event (the same event twice queues nothing new)."""
    key = f"{APPOINTMENT_REPLY_JOB}:{event.subject}:{event.version}"
    await enqueue(conn, APPOINTMENT_REPLY_JOB, {"subject": event.subject, "event": str(event.name)}, dedupe_key=key)


def _patient_participants(appointment: dict) -> dict[str, str]:
    return {
        ref: p.get("status", "")
        for p in appointment.get("participant", [])
        if (ref := (p.get("actor") or {}).get("reference") or "").startswith("Patient/")
    }


def _relative(reference: str) -> str:
    """``Patient/1`` of an absolute ``https://ehr/fhir/Patient/1``, as our mirror holds it."""
    return "/".join(reference.split("/")[-2:]) if "://" in reference else reference


def _cancelled_by_patient(appointment: dict) -> bool:
    codings = (appointment.get("cancelationReason") or {}).get("coding", [])
    return appointment.get("status") == "cancelled" and any(
        (c.get("system"), c.get("code")) == PATIENT_CANCELLED for c in codings
    )


def apply_reply(ours: dict, theirs: dict) -> dict | None:
    """The EHR's copy with the patient's decision from ours; None when the EHR already says so."""
    decided = _patient_participants(ours)
    body = copy.deepcopy(theirs)
    for participant in body.get("participant", []):
        ref = _relative((participant.get("actor") or {}).get("reference") or "")
        if decided.get(ref) in ("accepted", "declined"):
            participant["status"] = decided[ref]
    if _cancelled_by_patient(ours) and body.get("status") != "cancelled":
        body["status"] = "cancelled"
        body["cancelationReason"] = ours["cancelationReason"]
    confirmed = [e for e in ours.get("extension", []) if e.get("url") == CONFIRMED_URL]
    if confirmed and not any(e.get("url") == CONFIRMED_URL for e in body.get("extension", [])):
        body["extension"] = [*body.get("extension", []), *confirmed]  # so the EHR's echo keeps our mark
    return None if body == theirs else body


async def write_reply(conn: AsyncConnection, job: Job, *, client: EhrClient, settings: Settings) -> None:
    store = open_store(conn, settings, policy=ServiceScope("ehr-sync"))
    resource_type, fhir_id = split(job.payload["subject"])
    try:
        ours = (await store.read(resource_type, fhir_id)).content or {}
    except (NotFound, Gone):
        return
    source, _ = ehr_marks(ours)
    if not (source or "").startswith(f"{client.base_url.rstrip('/')}/"):
        return  # an appointment of fhircrm's own, not the EHR's
    patients = list(_patient_participants(ours))
    for patient in patients:
        if await objects_to_sharing(store, patient):
            log.info("appointment reply write-back of Appointment/%s skipped: the patient objects", fhir_id)
            return
    try:
        theirs = await client.read(resource_type, fhir_id)
        if theirs is None:
            return  # gone from the EHR
        body = apply_reply(ours, theirs)
        if body is not None:
            await client.update({k: v for k, v in body.items() if k != "meta"})
    except EhrUnavailable as exc:
        raise RetryLater(str(exc), seconds=exc.retry_after) from None
