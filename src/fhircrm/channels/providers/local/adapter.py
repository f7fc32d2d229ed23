"""The local channel: the Communication itself is the record; nothing leaves the building.

Selected when a channel's provider is not configured (development, the demo), and shown as provider ``local``.
Web chat delivers the same way (a message is delivered by being in the thread), under its own name.
"""

from __future__ import annotations

from datetime import datetime

from fhircrm.channels.model import OutboundMessage, Reconciled, Reconciliation, SendResult

NAME = "local"


class RecordedAdapter:
    """Delivered once recorded: the provider id is ``<provider>-<attempt>``, and recording again is harmless."""

    def __init__(self, provider: str = NAME):
        self.provider = provider

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult:
        return SendResult(provider_id=f"{self.provider}-{attempt_id}", status="completed")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        return Reconciliation(Reconciled.NOT_SENT)  # nothing was sent anywhere
