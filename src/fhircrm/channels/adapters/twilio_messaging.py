"""SMS and WhatsApp through Twilio's Messaging API (form-encoded POST, basic auth, status callbacks).

Twilio has no idempotency key, so exactly-once is ours: after a crash mid-call, ``reconcile`` lists the
messages Twilio holds for that recipient since the attempt started and matches the body.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from fhircrm.channels.adapters.http_errors import from_exception, from_response
from fhircrm.channels.adapters.twilio_account import account_url, basic_auth
from fhircrm.channels.model import OutboundMessage, PermanentError, Reconciled, Reconciliation, SendResult
from fhircrm.channels.urls import public_url
from fhircrm.config import Settings

#: Twilio error codes that mean "this number will never get it": invalid, unreachable, unsubscribed (STOP).
_UNDELIVERABLE = {21211, 21612, 21614, 21408, 21610}


class TwilioMessagingAdapter:
    provider = "twilio"

    def __init__(self, settings: Settings, http: httpx.AsyncClient):
        self.settings = settings
        self.http = http

    def _url(self) -> str:
        return account_url(self.settings, "Messages.json")

    def _auth(self) -> tuple[str, str]:
        return basic_auth(self.settings)

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
        try:
            response = await self.http.post(self._url(), data=form, auth=self._auth())
        except httpx.HTTPError as exc:
            raise from_exception(exc, "twilio") from None
        if response.status_code >= 400:
            code = _error_code(response)
            if code in _UNDELIVERABLE:
                raise PermanentError(f"twilio error {code}", code="undeliverable")
            raise from_response(response, "twilio")
        data = response.json()
        return SendResult(provider_id=data.get("sid"), status="in-progress")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        to, sender = self._endpoints(message)
        params = {"To": to, "From": sender, "DateSent>": (since - timedelta(days=1)).date().isoformat()}
        try:
            response = await self.http.get(self._url(), params={**params, "PageSize": "200"}, auth=self._auth())
        except httpx.HTTPError as exc:
            raise from_exception(exc, "twilio") from None
        if response.status_code >= 400:
            raise from_response(response, "twilio")
        for item in response.json().get("messages", []):
            if item.get("body") == message.text and item.get("to") == to:
                return Reconciliation(Reconciled.SENT, item.get("sid"))
        return Reconciliation(Reconciled.NOT_SENT)


def _error_code(response: httpx.Response) -> int | None:
    try:
        return int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        return None
