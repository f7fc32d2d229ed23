"""What an adapter gets and gives back, and the one interface every channel implements.

Adding a provider means one package in ``providers/`` whose ``Provider`` descriptor builds a ``ChannelAdapter``
(see ``fhircrm.channels.providers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    communication_id: str
    channel: str
    address: str  # phone number (E.164), email address or chat session
    text: str
    subject: str | None = None
    html: str | None = None
    language: str = "en"
    template: str | None = None
    session_open: bool = False  # WhatsApp: the patient wrote within 24 hours, so free text is allowed


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_id: str | None  # the provider's message id (Twilio SID, wamid, SMTP Message-ID)
    status: str = "in-progress"  # in-progress (accepted, receipt to come) | completed (delivered)


class Reconciled(StrEnum):
    """What the provider knows about an attempt we started but never recorded (the sender died mid-call)."""

    SENT = "sent"
    NOT_SENT = "not-sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Reconciliation:
    outcome: Reconciled
    provider_id: str | None = None


class TransientError(Exception):
    """Retry later. ``accepted_unknown`` means the provider may have taken the message (a timeout)."""

    def __init__(self, reason: str, *, accepted_unknown: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.accepted_unknown = accepted_unknown
        self.retry_after = retry_after


class PermanentError(Exception):
    """The provider refused the message for good (bad number, blocked): a person must try another way."""

    def __init__(self, reason: str, *, code: str = "rejected"):
        super().__init__(reason)
        self.code = code


class ChannelAdapter(Protocol):
    provider: str  # "local", "twilio", "meta", "smtp" ...

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult: ...

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        """Did an attempt that started at ``since`` reach the provider? Only asked after a crash mid-send."""
        ...
