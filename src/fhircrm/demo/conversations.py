"""Inbox conversations for the demo clinic: a few patients of the demo coordinator's team write in on SMS,
WhatsApp and email, the clinic answers some of them, and one patient texted STOP before writing again (the
inbox then offers a channel they consented to).

Messages come in through the real inbound path (``fhircrm.channels.inbound.receive``: sender matching, STOP,
threads) and replies go out through the outbox, like a coordinator's. The script is fixed, so every demo gets
the same conversations; inbound messages carry fixed provider ids, so seeding again writes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircrm.channels import contacts
from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.channels.outbound import queue_message
from fhircrm.config import Settings
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox import threads
from fhircrm.smart.roles import resolve_staff

PROVIDERS = {"sms": "twilio", "whatsapp": "meta", "email": "email"}
COORDINATOR = "PractitionerRole/demo-prrole-coord-01"


@dataclass(frozen=True)
class Line:
    inbound: bool
    channel: str
    text: str


def _in(channel: str, text: str) -> Line:
    return Line(True, channel, text)


def _out(channel: str, text: str) -> Line:
    return Line(False, channel, text)


#: One conversation per patient of the team, in order (the n-th script goes to the n-th patient by id).
SCRIPTS: tuple[tuple[Line, ...], ...] = (
    (
        _in("sms", "Hi, is there parking at the clinic?"),
        _out("sms", "Yes: free parking behind the building. Show this text at the gate."),
        _in("sms", "Great, thank you!"),
    ),
    (
        _in("whatsapp", "Can I get my lab results by email instead of a letter?"),
        _out("whatsapp", "We can send them through the patient portal. Shall we set that up for you?"),
        _in("whatsapp", "Yes please."),
    ),
    (_in("email", "I need a new referral letter for physiotherapy. Who do I ask?"),),
    (
        _in("sms", "STOP"),
        _in("sms", "Sorry, I still need to move my appointment next week. Can someone help?"),
    ),
    (
        _in("whatsapp", "Running about 10 minutes late, sorry!"),
        _out("whatsapp", "Thanks for letting us know. See you soon."),
    ),
    (_in("sms", "Do I need to fast before my blood test tomorrow?"),),
    (
        _in("email", "The invoice I received lists a visit I did not have."),
        _out("email", "Thank you for telling us. Our billing team is looking into it and will write back."),
    ),
)


async def team_patients(store: FhirStore, settings: Settings, count: int) -> list[dict]:
    """The first ``count`` patients (by id) whose general practitioner is on the demo coordinator's team."""
    staff = await resolve_staff(store, COORDINATOR, settings)
    if not staff.team:
        return []
    params = [("general-practitioner", ",".join(staff.team)), ("_sort", "_id"), ("_count", str(count * 6))]
    return (await store.search("Patient", params)).matches


async def seed_conversations(store: FhirStore, settings: Settings) -> int:
    """Write the scripted conversations; returns the messages written (0 when they were there already)."""
    written = 0
    # Each script goes to the next patient who can be reached on every written channel (sms, WhatsApp, email):
    # the one who texts STOP can then be answered elsewhere.
    patients = iter(
        p
        for p in await team_patients(store, settings, len(SCRIPTS))
        if all(contacts.address_for(p, c) for c in PROVIDERS)
    )
    for number, (patient, script) in enumerate(zip(patients, SCRIPTS, strict=False), start=1):
        thread: dict | None = None
        for line_no, line in enumerate(script, start=1):
            if line.inbound:
                message = InboundMessage(
                    channel=line.channel,
                    provider=PROVIDERS[line.channel],
                    provider_id=f"demo-conversation-{number:02d}-{line_no:02d}",
                    address=contacts.address_for(patient, line.channel),
                    text=line.text,
                )
                outcome = await receive(store, settings, message)
                if outcome is None:
                    break  # seeded before: the whole conversation is there
                thread = outcome.thread or thread
            elif thread is not None:
                await queue_message(
                    store,
                    patient=f"Patient/{patient['id']}",
                    template="generic",
                    purpose="care-coordination",
                    context={"body": line.text, "subject": "Your message to the clinic"},
                    channel=line.channel,
                    part_of=f"Task/{thread['id']}",
                    check_cap=False,
                    settings=settings,
                )
                thread = await threads.answered(store, await threads.read_thread(store, thread["id"]))
            written += 1
    return written
