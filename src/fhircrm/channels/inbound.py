"""Take one inbound message in: ignore replays, match the sender, understand safe replies, thread the rest.

Every inbound message becomes a Communication (status completed; MessageReceived when the sender is a known
patient). "C"/"1"/"yes" confirm and "cancel"/"2" cancel the appointment the replied-to message was about (or
the next booked one); STOP/START change the patient's Consent at once; "3" on a call asks for a person (a
callback Task); anything else, and anything from an unknown sender, lands in an inbox thread. A reply to a
survey invitation never confirms or cancels: a valid score is the survey's answer (fhircrm.surveys), anything
else goes to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.channels import appointments, communications, consent, threads
from fhircrm.channels.codes import TASK_TYPE_SYSTEM
from fhircrm.channels.replies import Intent, intent_of
from fhircrm.channels.reply_readers import reader_for
from fhircrm.channels.tables import channel_inbound
from fhircrm.config import Settings
from fhircrm.errors import NotFound
from fhircrm.fhir.store import FhirStore


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: str  # sms | whatsapp | voice | email | webchat | webform
    provider: str  # twilio | meta | email | form | webchat
    provider_id: str  # the provider's message id: replays carry the same one
    address: str | None  # phone, e-mail, chat session
    text: str
    replied_to: str | None = None  # a Communication id the provider told us (voice gather)
    identifiers: list[tuple[str, str]] = field(default_factory=list)  # (system, value) from forms
    reason: str = "general"


@dataclass(slots=True)
class InboundOutcome:
    communication: dict
    intent: Intent
    patient: str | None
    thread: dict | None = None
    appointment: dict | None = None
    task: dict | None = None


async def remember(conn: AsyncConnection, provider: str, provider_id: str) -> bool:
    """Record the provider message id; False when we have seen it (a replayed webhook)."""
    values = {
        "provider": provider,
        "provider_id": provider_id[:255],
        "received_at": datetime.now(UTC).replace(tzinfo=None),
    }
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(channel_inbound)
    statement = insert.values(values).on_conflict_do_nothing(index_elements=["provider", "provider_id"])
    return (await conn.execute(statement.returning(channel_inbound.c.id))).first() is not None


async def match_sender(store: FhirStore, message: InboundMessage) -> str | None:
    """The one Patient with this telecom, else with one of these identifiers; None when unknown or ambiguous."""
    searches: list[tuple[str, str]] = []
    phone_like = message.channel == "webform" and "@" not in (message.address or "")
    if message.address and (message.channel in ("sms", "whatsapp", "voice") or phone_like):
        searches.append(("phone", message.address))
    if message.address and message.channel in ("email", "webform") and "@" in message.address:
        searches.append(("email", message.address))
    searches += [("identifier", f"{system}|{value}") for system, value in message.identifiers]
    for name, value in searches:
        found = (await store.search("Patient", [(name, value), ("_count", "2")])).matches
        if len(found) == 1:
            return f"Patient/{found[0]['id']}"
    return None


async def replied_message(store: FhirStore, patient: str, message: InboundMessage) -> dict | None:
    """The outbound message this one answers: the one named by the provider, else our latest to the patient."""
    if message.replied_to:
        try:
            return (await store.read("Communication", message.replied_to)).content
        except NotFound:
            return None
    since = (datetime.now(UTC) - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = [
        ("recipient", patient),
        ("channel", message.channel),
        ("status", "in-progress,completed"),
        ("_lastUpdated", f"ge{since}"),
        ("_sort", "-_lastUpdated"),
        ("_count", "1"),
    ]
    found = (await store.search("Communication", params)).matches
    return found[0] if found else None


def _refs(comm: dict | None) -> list[str]:
    if not comm:
        return []
    return [r["reference"] for key in ("about", "basedOn") for r in comm.get(key, []) if r.get("reference")]


def _topic(comm: dict | None) -> str | None:
    return ((comm or {}).get("topic") or {}).get("text")


async def receive(store: FhirStore, settings: Settings, message: InboundMessage) -> InboundOutcome | None:
    """Process one inbound message in the caller's transaction; None for a replay (nothing written)."""
    if not await remember(store.conn, message.provider, message.provider_id):
        return None
    patient = await match_sender(store, message) or await threads.linked_patient(store, message.address)
    replied = await replied_message(store, patient, message) if patient else None
    intent = intent_of(message.text, channel=message.channel) if patient else Intent.NONE
    reader = reader_for(replied)  # a survey invitation, say
    if reader and intent not in (Intent.STOP, Intent.START):
        intent = Intent.NONE  # "1"/"2" answer the invitation: never an appointment's confirm or cancel
    appointment = None
    if intent in (Intent.CONFIRM, Intent.CANCEL) and patient:
        appointment = await appointments.target_appointment(store, patient, _refs(replied))
        if appointment is None:
            intent = Intent.NONE  # nothing to confirm: a person reads it
    topic = _topic(replied) or "general"
    body = communications.inbound(
        channel=message.channel,
        sender_ref=patient,
        text=message.text,
        provider=message.provider,
        provider_id=message.provider_id,
        address=message.address,
        topic=topic,
        in_response_to=f"Communication/{replied['id']}" if replied else None,
    )
    if reader and intent is Intent.NONE and patient and await reader.answer(store, settings, body):
        intent = Intent.SURVEY_ANSWER  # scored: nothing for a person to read
    thread = None
    if intent in (Intent.NONE, Intent.CALLBACK):
        reason = message.reason if patient else "identify-sender"
        thread = await threads.thread_for_inbound(
            store, patient_ref=patient, topic=topic, channel=message.channel, address=message.address, reason=reason
        )
    if thread:
        body["partOf"] = [communications.ref(f"Task/{thread['id']}")]
    if appointment:
        body["about"] = [communications.ref(f"Appointment/{appointment['id']}")]
    comm = (await store.create(body)).content or body
    outcome = InboundOutcome(comm, intent, patient, thread)
    await _act(store, settings, message, outcome, appointment)
    return outcome


async def _act(
    store: FhirStore, settings: Settings, message: InboundMessage, outcome: InboundOutcome, appointment: dict | None
) -> None:
    patient, comm = outcome.patient, outcome.communication
    focus = f"Communication/{comm['id']}"
    if patient is None:
        if not await _identification_pending(store, outcome.thread):
            task = communications.task(
                code="identify-sender",
                display="Identify sender",
                description="Who sent this message?",
                patient_ref=None,
                focus=focus,
            )
            if outcome.thread:
                task["partOf"] = [communications.ref(f"Task/{outcome.thread['id']}")]
            outcome.task = (await store.create(task)).content or task
    elif outcome.intent is Intent.CONFIRM and appointment:
        outcome.appointment = await appointments.confirm(store, appointment, patient)
    elif outcome.intent is Intent.CANCEL and appointment:
        outcome.appointment = await appointments.cancel(store, appointment, patient)
    elif outcome.intent in (Intent.STOP, Intent.START):
        await consent.set_opt_out(store, patient, message.channel, opted_out=outcome.intent is Intent.STOP)
    elif outcome.intent is Intent.CALLBACK:
        outcome.task = await _task(
            store, "callback", "Call back", "The patient asked to talk to someone.", patient, focus
        )
    if outcome.appointment and message.channel in ("sms", "whatsapp", "webchat"):
        await _acknowledge(store, settings, patient, message.channel, comm, outcome)


async def _identification_pending(store: FhirStore, thread: dict | None) -> bool:
    """An identify-sender Task is already open for this thread: one per unknown sender, not one per message."""
    if not thread:
        return False
    params = [
        ("part-of", f"Task/{thread['id']}"),
        ("code", f"{TASK_TYPE_SYSTEM}|identify-sender"),
        ("status", "requested,in-progress"),
        ("_summary", "count"),
    ]
    return bool((await store.search("Task", params)).total)


async def _task(store: FhirStore, code: str, display: str, text: str, patient: str | None, focus: str) -> dict:
    body = communications.task(code=code, display=display, description=text, patient_ref=patient, focus=focus)
    return (await store.create(body)).content or body


async def _acknowledge(
    store: FhirStore, settings: Settings, patient: str, channel: str, comm: dict, outcome: InboundOutcome
) -> None:
    from fhircrm.channels.outbound import queue_message

    await queue_message(
        store,
        patient=patient,
        template="reply-acknowledged",
        purpose="appointment-reminders",
        context={"outcome": str(outcome.intent)},
        channel=channel,
        about=[f"Appointment/{outcome.appointment['id']}"] if outcome.appointment else None,
        in_response_to=f"Communication/{comm['id']}",
        topic=_topic(comm),
        check_cap=False,
        settings=settings,
    )
