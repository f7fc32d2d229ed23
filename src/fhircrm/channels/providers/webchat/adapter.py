"""Web chat: an outbound message is delivered by being in the thread; the widget's stream picks it up."""

from __future__ import annotations

from datetime import datetime

from fhircrm.channels.model import OutboundMessage, Reconciled, Reconciliation, SendResult

NAME = "webchat"


class WebChatAdapter:
    provider = NAME

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult:
        return SendResult(provider_id=f"webchat-{attempt_id}", status="completed")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        return Reconciliation(Reconciled.NOT_SENT)
