"""A patient's yes to a slot offer ("YES", "SI", "1" by SMS or WhatsApp) books the slot.

The channel layer records the reply as an inbound Communication (MessageReceived); a reply about a waitlist offer
is left to us (it confirms no other appointment). The offer answered is the one the replied-to message was
sent for (inResponseTo -> basedOn CommunicationRequest); only when no replied-to message is known, the patient's
latest offer whose hold is still open.
The first yes books (``accept_offer`` serializes on the slot); a later yes finds the slot taken, and that patient
was already told by the "slot taken" message the first acceptance planned.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fhircrm.channels.replies import Intent, intent_of
from fhircrm.clock import parse_fhir_datetime
from fhircrm.errors import Conflict, NotFound
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore
from fhircrm.timers.dispatch import COMPLETED
from fhircrm.timers.resources import data_of, timer_key
from fhircrm.waitlist.offers import accept_offer

log = logging.getLogger(__name__)
OFFER_PREFIX = "waitlist-offer:"


def offer_parts(request: dict) -> tuple[str, str] | None:
    """(slot id, entry id) of an offer timer, None for any other CommunicationRequest."""
    key = timer_key(request) or ""
    if not key.startswith(OFFER_PREFIX):
        return None
    slot_id, _, entry_id = key.removeprefix(OFFER_PREFIX).partition(":")
    return (slot_id, entry_id) if slot_id and entry_id else None


async def answered_offer(store: FhirStore, reply: dict, *, now: datetime) -> dict | None:
    """The offer ``reply`` answers: the replied-to message's offer; when the channel could not tell which message
    was answered, the patient's latest open offer. A reply to some other message (a survey) answers no offer."""
    for ref in reply.get("inResponseTo", []):
        replied = await read_reference(store, ref.get("reference", "")) or {}
        for based in replied.get("basedOn", []):
            if based.get("reference", "").startswith("CommunicationRequest/"):
                request = await read_reference(store, based["reference"])
                if request and offer_parts(request):
                    return request
    if reply.get("inResponseTo"):
        return None
    patient = (reply.get("sender") or {}).get("reference", "")
    if not patient.startswith("Patient/"):
        return None
    # offers already sent: the sweep closes a dispatched timer with its outcome, COMPLETED
    sent = await store.search(
        "CommunicationRequest", [("subject", patient), ("status", COMPLETED.status), ("_count", "200")]
    )

    def open_(request: dict) -> bool:
        expires = data_of(request).get("hold_expires")
        return bool(offer_parts(request) and expires and parse_fhir_datetime(expires) >= now)

    offers = sorted((r for r in sent.matches if open_(r)), key=lambda r: r.get("occurrenceDateTime", ""))
    return offers[-1] if offers else None


async def accept_from_reply(store: FhirStore, reply: dict, *, now: datetime) -> dict | None:
    """Book the offered slot when ``reply`` (an inbound Communication) says yes to an open offer; the booked
    Appointment, or None (not a yes, no open offer, or the slot already went to someone else)."""
    channel = next((c.get("code") for cc in reply.get("category", []) for c in cc.get("coding", [])), "sms")
    text = next((p.get("contentString", "") for p in reply.get("payload", []) if "contentString" in p), "")
    if intent_of(text, channel=channel or "sms") is not Intent.CONFIRM:
        return None
    offer = await answered_offer(store, reply, now=now)
    parts = offer_parts(offer) if offer else None
    if parts is None:
        return None
    try:
        return await accept_offer(store, slot_id=parts[0], entry_id=parts[1], now=now)
    except (Conflict, NotFound) as exc:
        log.info("reply %s to offer %s not accepted: %s", reply.get("id"), offer.get("id") if offer else "", exc)
        return None
