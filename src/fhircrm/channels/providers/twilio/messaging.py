"""SMS and WhatsApp through Twilio's Messaging API (form-encoded POST, basic auth, status callbacks).

Twilio has no idempotency key, so exactly-once is ours: after a crash mid-call, ``reconcile`` lists the
messages Twilio holds for that recipient since the attempt started and matches the body.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from fhircrm.channels.model import OutboundMessage, Reconciled, Reconciliation, SendResult
from fhircrm.channels.providers.twilio.account import MESSAGING, TwilioAccount
from fhircrm.channels.urls import public_url
from fhircrm.config import Settings

#: Twilio error codes that mean "this number will never get it": invalid, unreachable, unsubscribed (STOP).
_UNDELIVERABLE = frozenset({21211, 21612, 21614, 21408, 21610})


class TwilioMessagingAdapter:
    provider = MESSAGING

    def __init__(self, settings: Settings, http: httpx.AsyncClient):
        self.settings = settings
        self.account = TwilioAccount(settings, http)

    def _endpoints(self, message: OutboundMessage) -> tuple[str, str]:
        if message.channel == "whatsapp":
            return f"whatsapp:{message.address}", f"whatsapp:{self.settings.twilio_whatsapp_from}"
        return message.address, self.settings.twilio_sms_from or ""

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult:
        to, sender = self._endpoints(message)
        form = {
            "To": to,
            "From": sender,
            "Body": message.text,
            "StatusCallback": public_url(self.settings, f"/channels/twilio/status?attempt={attempt_id}"),
        }
        data = await self.account.create("Messages.json", form, undeliverable=_UNDELIVERABLE)
        return SendResult(provider_id=data.get("sid"), status="in-progress")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        to, sender = self._endpoints(message)
        params = {"To": to, "From": sender, "DateSent>": (since - timedelta(days=1)).date().isoformat()}
        data = await self.account.list("Messages.json", {**params, "PageSize": "200"})
        for item in data.get("messages", []):
            if item.get("body") == message.text and item.get("to") == to:
                return Reconciliation(Reconciled.SENT, item.get("sid"))
        return Reconciliation(Reconciled.NOT_SENT)
