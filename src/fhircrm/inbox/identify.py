"""Link an unknown sender's thread to a Patient: a coordinator's answer to the identify-sender Task.

The thread and its messages get the patient, the identify-sender Tasks complete, and later messages from the same
address join the thread as the patient's; replies then go back to the address the sender used.
"""

from __future__ import annotations

import copy

from fhircrm.channels import communications
from fhircrm.channels.codes import TASK_TYPE_SYSTEM, concept
from fhircrm.errors import Conflict, NotFound, Unprocessable
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import REASON_SYSTEM
from fhircrm.inbox.threads import read_thread

IDENTIFY_CODE = f"{TASK_TYPE_SYSTEM}|identify-sender"


async def _patient_exists(store: FhirStore, patient_ref: str) -> bool:
    try:
        return (await store.read("Patient", split(patient_ref)[1])).content is not None
    except NotFound:
        return False


def _with_patient(comm: dict, patient_ref: str) -> dict | None:
    """The message with the patient as its subject (and sender or recipient); None when nothing changes."""
    body = copy.deepcopy(comm)
    outbound = bool(comm.get("recipient") or comm.get("sent"))
    body["subject"] = communications.ref(patient_ref)
    if outbound:
        body["recipient"] = [communications.ref(patient_ref)]
    elif not body.get("sender"):
        body["sender"] = communications.ref(patient_ref)
    return None if body == comm else body


async def identify(store: FhirStore, thread_id: str, patient_ref: str) -> dict:
    thread = copy.deepcopy(await read_thread(store, thread_id))
    if thread.get("status") == "completed":
        raise Unprocessable("the thread is closed")
    current = (thread.get("for") or {}).get("reference")
    if current and current != patient_ref:
        raise Conflict(f"the thread is already linked to {current}")
    if not await _patient_exists(store, patient_ref):
        raise Unprocessable(f"{patient_ref} does not exist")
    if current == patient_ref:
        return thread
    messages = (await store.search("Communication", [("part-of", f"Task/{thread_id}"), ("_count", "500")])).matches
    for comm in messages:
        if (changed := _with_patient(comm, patient_ref)) is not None:
            await store.update("Communication", comm["id"], changed)
    pending = [("code", IDENTIFY_CODE), ("status", "requested,in-progress"), ("_count", "500")]
    found = (await store.search("Task", [*pending, ("part-of", f"Task/{thread_id}")])).matches
    open_tasks = {t["id"]: t for t in found}
    if messages:  # Tasks opened before they were part of the thread point at its messages
        focus = ",".join(f"Communication/{c['id']}" for c in messages)
        open_tasks |= {t["id"]: t for t in (await store.search("Task", [*pending, ("focus", focus)])).matches}
    for task in open_tasks.values():
        done = {**copy.deepcopy(task), "status": "completed", "for": communications.ref(patient_ref)}
        done["lastModified"] = communications.instant()
        await store.update("Task", task["id"], done)
    thread["for"] = communications.ref(patient_ref)
    if any(c.get("code") == "identify-sender" for c in (thread.get("reasonCode") or {}).get("coding", [])):
        thread["reasonCode"] = concept(REASON_SYSTEM, "general")
    thread["lastModified"] = communications.instant()
    return (await store.update("Task", thread_id, thread)).content or thread
