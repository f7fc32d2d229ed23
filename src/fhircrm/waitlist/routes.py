"""``POST /api/waitlist/offers/{id}/accept``: a coordinator books an offered slot for the patient (on the phone,
at the desk). ``id`` is the offer's CommunicationRequest; 404 when it is not an offer, 409 when the slot is
taken, the hold expired or the entry left the waitlist."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.clock import current_time
from fhircrm.deps import StoreDep
from fhircrm.errors import NotFound
from fhircrm.waitlist.offers import accept_offer
from fhircrm.waitlist.replies import offer_parts

router = APIRouter(prefix="/api/waitlist", tags=["waitlist"])


@router.post("/offers/{offer_id}/accept")
async def accept(offer_id: str, request: Request, store: StoreDep) -> dict:
    offer = (await store.read("CommunicationRequest", offer_id)).content or {}
    parts = offer_parts(offer)
    if parts is None:
        raise NotFound(f"CommunicationRequest/{offer_id} is not a waitlist offer")
    now = current_time(request.app.state.settings)
    return await accept_offer(store, slot_id=parts[0], entry_id=parts[1], now=now)
