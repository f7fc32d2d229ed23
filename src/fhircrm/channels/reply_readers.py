"""Who reads an inbound reply before a person does: a package whose invitations are answered by reply.

A survey invitation answered with "9" is the survey's score, not a message for a coordinator, and never an
appointment's confirm or cancel. The channel layer asks each reader whether the replied-to message is one of its
invitations (``claims``) and lets it record the answer (``answer``); the readers are named by import path
(``channels.named``), since their packages send through channels.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fhircrm.channels.named import load
from fhircrm.config import Settings
from fhircrm.fhir.store import FhirStore


@dataclass(frozen=True, slots=True)
class ReplyReader:
    name: str
    #: is this sent message (the one replied to) one of the reader's invitations?
    claims: Callable[[dict], bool]
    #: record ``reply`` (the inbound Communication about to be stored) as an answer; False when it is not one
    answer: Callable[[FhirStore, Settings, dict], Awaitable[bool]]


READERS = ("fhircrm.surveys.replies:READER",)


def reader_for(replied: dict | None) -> ReplyReader | None:
    """The reader whose invitation ``replied`` is, if any."""
    if replied is None:
        return None
    return next((r for r in (load(p, ReplyReader, "READER") for p in READERS) if r.claims(replied)), None)
