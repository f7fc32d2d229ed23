"""Inbound e-mail (an inbound-parse webhook) and web forms: both land in the inbox (web chat: its provider).

E-mail and forms carry our shared secret (``X-Fhircrm-Secret`` header, or ``secret`` in the query for
inbound-parse services that cannot set headers): missing -> 401, wrong -> 403, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import re
from email.utils import parseaddr
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from fhircrm.channels import signatures
from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.config import Settings
from fhircrm.deps import ServiceStoreDep

router = APIRouter(prefix="/channels", tags=["channels"])
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


def check_secret(request: Request) -> None:
    settings: Settings = request.app.state.settings
    provided = request.headers.get("X-Fhircrm-Secret") or request.query_params.get("secret")
    if not provided:
        raise HTTPException(401, "missing shared secret")
    secret = settings.channels_inbound_secret.get_secret_value() if settings.channels_inbound_secret else None
    if not signatures.secret_valid(provided, secret):
        raise HTTPException(403, "invalid shared secret")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@router.post("/email/inbound", include_in_schema=False)
async def inbound_email(request: Request, store: ServiceStoreDep) -> dict:
    """SendGrid/Mailgun-style inbound parse: form fields from, subject, text, headers."""
    check_secret(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    _name, address = parseaddr(form.get("from", ""))
    if not address:
        raise HTTPException(400, "from is required")
    found = _MESSAGE_ID.search(form.get("headers", ""))
    text = form.get("text") or form.get("stripped-text") or ""
    subject = form.get("subject", "")
    message = InboundMessage(
        channel="email",
        provider="email",
        provider_id=found.group(1) if found else _digest(address, subject, text),
        address=address.lower(),
        text=f"{subject}\n\n{text}".strip() if subject else text,
    )
    outcome = await receive(store, request.app.state.settings, message)
    return {"received": outcome is not None}


class WebForm(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=200)
    message: str = Field("", max_length=5000)
    preferred_time: str | None = Field(None, max_length=200)
    submission_id: str | None = Field(None, max_length=100)


@router.post("/forms/{kind}", include_in_schema=False)
async def web_form(
    kind: Literal["appointment-request", "contact"], form: WebForm, request: Request, store: ServiceStoreDep
) -> dict:
    check_secret(request)
    if not (form.phone or form.email):
        raise HTTPException(422, "a phone number or an e-mail address is required")
    lines = [f"{kind.replace('-', ' ').capitalize()} from {form.name}", form.message]
    if form.preferred_time:
        lines.append(f"Preferred time: {form.preferred_time}")
    text = "\n".join(line for line in lines if line)
    message = InboundMessage(
        channel="webform",
        provider="form",
        provider_id=form.submission_id or _digest(kind, form.name, form.phone or "", form.email or "", form.message),
        address=(form.email or "").lower() or form.phone,
        text=text,
        reason="appointment" if kind == "appointment-request" else "general",
    )
    outcome = await receive(store, request.app.state.settings, message)
    return {"received": outcome is not None, "thread": outcome.thread["id"] if outcome and outcome.thread else None}
