"""Which channels a reply to a patient may go out on, known before the coordinator presses Send: the thread's
own channel unless the patient opted out of it (sent STOP) or gave no consent, else the channels that are
consented and have an address, the patient's preferred first."""

from __future__ import annotations

from dataclasses import dataclass, field

from fhircrm.channels import consent, contacts
from fhircrm.channels.codes import OUTBOUND_CHANNELS, STATUS_REASONS
from fhircrm.fhir.store import FhirStore
from fhircrm.ui.fetch import ref_id

PURPOSE = "care-coordination"
WRITTEN = ("sms", "whatsapp", "email")  # a typed reply is not read out by the voice channel


@dataclass(frozen=True)
class ReplyChannels:
    channel: str | None  # the thread's channel
    blocked: str = ""  # why the thread's channel may not be used ("" when it may)
    allowed: list[str] = field(default_factory=list)  # consented, reachable written channels, preferred first

    @property
    def default(self) -> str | None:
        if not self.blocked:
            return self.channel
        return self.allowed[0] if self.allowed else None


async def reply_channels(store: FhirStore, patient_ref: str | None, channel: str | None) -> ReplyChannels:
    patient_id = ref_id(patient_ref, "Patient")
    if not patient_id or channel not in OUTBOUND_CHANNELS:
        return ReplyChannels(channel)  # an unidentified sender, web chat or a form: the inbox's own rules apply
    patient = (await store.read("Patient", patient_id)).content or {}
    consents = await consent.active_consents(store, f"Patient/{patient_id}")
    order = list(dict.fromkeys([*contacts.preferred_channels(patient), *WRITTEN]))
    allowed = [
        c
        for c in order
        if c in WRITTEN and contacts.address_for(patient, c) and not consent.decide(consents, c, PURPOSE)
    ]
    reason = consent.decide(consents, channel, PURPOSE)
    return ReplyChannels(channel, STATUS_REASONS.get(reason, reason) if reason else "", allowed)
