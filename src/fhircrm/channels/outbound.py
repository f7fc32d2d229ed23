"""Queue a message to a patient: decide, render, record, enqueue, all in the caller's transaction.

The journey engine (and any other sender) calls ``queue_message``. The Communication is written with status
``preparation`` together with its delivery job, so a rollback sends nothing and a commit sends exactly once. A
send that policy forbids is written too, with status ``not-done`` and the reason, so nobody wonders why.
"""

from __future__ import annotations

from datetime import UTC, datetime

import fhircrm.channels.communications as communications
import fhircrm.channels.consent as consent
import fhircrm.channels.contacts as contacts
import fhircrm.channels.policy as policy
from fhircrm.channels.codes import CHANNELS, DEDUPE_SYSTEM, PREFERRED_CHANNEL_URL, PURPOSES, extension
from fhircrm.channels.providers import provider_for
from fhircrm.channels.templates import TemplateError, render
from fhircrm.config import Settings, get_settings
from fhircrm.errors import Unprocessable
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs import enqueue

DELIVER_JOB = "channel-deliver"

__all__ = ["DELIVER_JOB", "TemplateError", "queue_message"]


async def _existing(store: FhirStore, dedupe_key: str) -> dict | None:
    found = [c for c in await store.find("Communication", f"identifier={DEDUPE_SYSTEM}|{dedupe_key}") if c.content]
    return found[0].content if found else None


async def _choose_channel(
    store: FhirStore, settings: Settings, patient: dict, patient_ref: str, purpose: str
) -> tuple[str, str | None]:
    """The first channel the patient prefers, can be reached on and has not refused; else why not."""
    consents = await consent.active_consents(store, patient_ref)
    candidates = contacts.preferred_channels(patient)
    for channel in candidates:
        if consent.decide(consents, channel, purpose) is None:
            return channel, None
    if candidates:
        return candidates[0], consent.decide(consents, candidates[0], purpose)
    preferred = extension(patient, PREFERRED_CHANNEL_URL)
    return (preferred if isinstance(preferred, str) else "local"), None


def _aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


async def queue_message(
    store: FhirStore,
    *,
    patient: str,
    template: str,
    purpose: str,
    context: dict,
    channel: str | None = None,
    based_on: list[str] | None = None,
    topic: str | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    about: list[str] | None = None,
    in_response_to: str | None = None,
    part_of: str | None = None,
    language: str | None = None,
    address: str | None = None,
    plain_language: bool | None = None,
    check_cap: bool = True,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> dict:
    """Record a message to ``patient`` ("Patient/123" or "123") and queue its delivery; returns the
    Communication (``preparation``, or ``not-done`` with ``statusReason`` when policy forbids it).

    ``address`` overrides the patient's address on ``channel`` (a reply to the number or chat that wrote).
    Raises TemplateError when the template is unknown or a variable is missing (nothing is written), and
    Unprocessable for an unknown purpose or channel.
    """
    settings = settings or get_settings()
    if purpose not in PURPOSES:
        raise Unprocessable(f"unknown contact purpose {purpose!r}")
    if channel is not None and channel not in CHANNELS:
        raise Unprocessable(f"unknown channel {channel!r}")
    if dedupe_key and (existing := await _existing(store, dedupe_key)):
        return existing
    patient_ref = f"Patient/{contacts.patient_id(patient)}"
    resource = (await store.read("Patient", contacts.patient_id(patient))).content or {}
    now = now or datetime.now(UTC)
    start = max(now, _aware(not_before)) if not_before else now

    blocked: str | None = None
    if channel is None:
        address = None  # an override belongs to the channel it was given with
        channel, blocked = await _choose_channel(store, settings, resource, patient_ref, purpose)
    lang = language or contacts.language_of(resource, settings.channels_default_language)
    plain = contacts.wants_plain_language(resource) if plain_language is None else plain_language
    rendered = render(
        template, context, language=lang, plain=plain, default_language=settings.channels_default_language
    )
    address = address or contacts.address_for(resource, channel)
    decision = policy.Decision(blocked=blocked)
    if not blocked:
        if address is None:
            decision = policy.Decision(blocked="no-address")
        else:
            tz = contacts.timezone_of(resource, settings.channels_clinic_timezone)
            decision = await policy.decide(
                store,
                settings,
                patient_ref=patient_ref,
                channel=channel,
                purpose=purpose,
                tz=tz,
                at=start,
                check_cap=check_cap,
            )
    send_at = decision.not_before or (start if start > now else None)
    body = communications.outbound(
        patient_ref=patient_ref,
        channel=channel,
        provider=provider_for(settings, channel),
        purpose=purpose,
        text=rendered.text,
        subject=rendered.subject,
        html=rendered.html if channel == "email" else None,
        address=address,
        template=template,
        language=rendered.language,
        based_on=based_on,
        about=about,
        topic=topic,
        dedupe_key=dedupe_key,
        not_before=send_at,
        blocked=decision.blocked,
        in_response_to=in_response_to,
    )
    if part_of:
        body["partOf"] = [communications.ref(part_of)]
    written = (await store.create(body)).content or body
    if not decision.blocked:
        run_at = send_at.astimezone(UTC).replace(tzinfo=None) if send_at else None
        await enqueue(
            store.conn,
            DELIVER_JOB,
            {"communication": written["id"]},
            dedupe_key=f"{DELIVER_JOB}:{written['id']}",
            run_at=run_at,
        )
    return written
