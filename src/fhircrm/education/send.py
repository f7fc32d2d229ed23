"""Send one piece of education content to a patient, once (a dedupe key per patient, topic and occasion)."""

from __future__ import annotations

from datetime import datetime

from fhircrm.channels import contacts
from fhircrm.channels.outbound import queue_message
from fhircrm.config import Settings
from fhircrm.education.library import catalog, render_content
from fhircrm.errors import Unprocessable
from fhircrm.fhir.store import FhirStore


async def send_education(
    store: FhirStore,
    *,
    patient: str,
    topic: str,
    settings: Settings,
    now: datetime,
    occasion: str = "",
    about: list[str] | None = None,
    not_before: datetime | None = None,
) -> dict:
    """Queue ``topic`` to ``patient`` in their language (plain-language version when they asked for it).
    The channel layer applies consent, quiet hours and the frequency cap: a send over the cap is recorded as a
    ``not-done`` Communication with the reason, never sent."""
    if topic not in catalog():
        raise Unprocessable(f"no education content {topic!r}")
    ident = patient.split("/", 1)[-1]
    resource = (await store.read("Patient", ident)).content or {}
    given = ((resource.get("name") or [{}])[0].get("given") or [""])[0] or "Hello"
    rendered = render_content(
        topic,
        {"patient_name": given},
        language=contacts.language_of(resource, settings.channels_default_language),
        plain=contacts.wants_plain_language(resource),
        default_language=settings.channels_default_language,
    )
    return await queue_message(
        store,
        patient=f"Patient/{ident}",
        template="generic",
        purpose="education",
        context={"subject": rendered.subject or topic, "body": rendered.text},
        language=rendered.language,
        plain_language=False,  # already rendered in the right register
        topic=f"education:{topic}",
        about=about,
        dedupe_key=f"education:{ident}:{topic}:{occasion}" if occasion else None,
        not_before=not_before,
        settings=settings,
        now=now,
    )
