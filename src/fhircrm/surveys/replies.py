"""Answer by SMS: a number in reply to a survey invitation becomes the survey's score."""

from __future__ import annotations

import re
from datetime import datetime

from fhircrm.channels.reply_readers import ReplyReader
from fhircrm.clock import current_time
from fhircrm.config import Settings
from fhircrm.errors import Conflict, Unprocessable
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys.codes import CONTACT_PURPOSE_SYSTEM
from fhircrm.surveys.questionnaires import rating_item
from fhircrm.surveys.record import record_response

_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.!]?\s*$")


def is_survey(comm: dict) -> bool:
    """Was ``comm`` a survey invitation: sent for the survey purpose (the channel layer codes the purpose in
    reasonCode or category), or on a survey topic (``survey:<touchpoint>``)?"""
    if str((comm.get("topic") or {}).get("text") or "").startswith("survey:"):
        return True
    return any(
        c.get("system") == CONTACT_PURPOSE_SYSTEM and c.get("code") == "survey"
        for concept in (*comm.get("reasonCode", []), *comm.get("category", []))
        for c in concept.get("coding", [])
    )


def _nonce(invitation: dict) -> str:
    """The invitation's token nonce (its dedupe identifier), so a link answer and a reply count once."""
    for ident in invitation.get("identifier", []):
        if str(ident.get("value", "")).startswith("survey:"):
            return ident["value"].split(":", 1)[1]
    return f"Communication/{invitation['id']}"


async def answer_from_reply(store: FhirStore, reply: dict, now: datetime) -> dict | None:
    """The QuestionnaireResponse written for ``reply`` (an inbound Communication), or None when it is not a
    valid score answering one of our survey invitations."""
    text = next((p.get("contentString") for p in reply.get("payload", []) if p.get("contentString")), "")
    match = _NUMBER.match(text or "")
    invitation_ref = next((r["reference"] for r in reply.get("inResponseTo", []) if r.get("reference")), None)
    if not match or not invitation_ref:
        return None
    invitation = await read_reference(store, invitation_ref)
    if not invitation or not is_survey(invitation):
        return None
    q_ref = next(
        (r["reference"] for r in invitation.get("about", []) if r["reference"].startswith("Questionnaire/")), None
    )
    questionnaire = await read_reference(store, q_ref) if q_ref else None
    rating = rating_item(questionnaire) if questionnaire else None
    patient = (reply.get("sender") or {}).get("reference", "")
    if not rating or not patient.startswith("Patient/"):
        return None
    link_id, low, high = rating
    score = int(match.group(1))
    if not low <= score <= high:
        return None
    touchpoint = ((invitation.get("topic") or {}).get("text") or "survey:post-visit").split(":", 1)[-1]
    about = [r["reference"] for r in invitation.get("about", []) if not r["reference"].startswith("Questionnaire/")]
    channel = next(
        (
            c.get("code")
            for cat in reply.get("category", [])
            for c in cat.get("coding", [])
            if "channel" in c.get("system", "")
        ),
        "sms",
    )
    try:
        return await record_response(
            store,
            questionnaire={**questionnaire, "item": [i for i in questionnaire["item"] if i["linkId"] == link_id]},
            patient=patient.split("/", 1)[1],
            touchpoint=touchpoint,
            answers={link_id: score},
            invitation=_nonce(invitation),
            now=now,
            about=about,
            channel=channel,
        )
    except (Conflict, Unprocessable):
        return None


async def _answer(store: FhirStore, settings: Settings, reply: dict) -> bool:
    """The channel layer's question, as a reply comes in: does it answer one of our invitations? Recorded here
    and on the MessageReceived path alike; a second answer to one invitation is refused, so it counts once."""
    return await answer_from_reply(store, reply, current_time(settings)) is not None


#: how the channel layer hands a reply to a survey invitation to surveys (``channels.reply_readers``)
READER = ReplyReader("surveys", is_survey, _answer)
