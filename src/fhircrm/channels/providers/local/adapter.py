"""The local channel: the Communication itself is the record; nothing leaves the building.

Selected when a channel's provider is not configured (development, the demo), and shown as provider ``local``.
"""

from __future__ import annotations

from datetime import datetime

from fhircrm.channels.model import OutboundMessage, Reconciled, Reconciliation, SendResult

NAME = "local"


class LocalAdapter:
    provider = NAME

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult:
        return SendResult(provider_id=f"local-{attempt_id}", status="completed")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        return Reconciliation(Reconciled.NOT_SENT)  # recording again is harmless: nothing was sent anywhere
