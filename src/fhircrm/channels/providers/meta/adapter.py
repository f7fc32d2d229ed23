"""WhatsApp through Meta's WhatsApp Cloud API (Graph API ``/{phone-number-id}/messages``).

Inside the 24-hour customer-service window (the patient wrote to us) a free-text message is allowed; outside
it only an approved template may be sent: ours are named after the fhircrm template (dashes become
underscores) with the rendered text as the single body parameter. The attempt id travels as
``biz_opaque_callback_data`` and comes back on status webhooks. The Cloud API has no lookup of sent messages,
so a crash mid-call reconciles as UNKNOWN (a person checks) instead of risking a second message.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from fhircrm.channels.model import OutboundMessage, Reconciled, Reconciliation, SendResult
from fhircrm.channels.providers.http_errors import from_exception, from_response
from fhircrm.config import Settings

NAME = "meta"


def configured(settings: Settings) -> bool:
    return bool(settings.meta_whatsapp_token and settings.meta_whatsapp_phone_number_id)


def template_name(template: str | None) -> str:
    return (template or "fhircrm_message").replace("-", "_")


def request_body(message: OutboundMessage, attempt_id: str) -> dict:
    body: dict = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.address.lstrip("+"),
        "biz_opaque_callback_data": attempt_id,
    }
    if message.session_open:
        body.update(type="text", text={"preview_url": False, "body": message.text})
    else:
        body.update(
            type="template",
            template={
                "name": template_name(message.template),
                "language": {"code": message.language},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": message.text}]}],
            },
        )
    return body


class MetaWhatsAppAdapter:
    provider = NAME

    def __init__(self, settings: Settings, http: httpx.AsyncClient):
        self.settings = settings
        self.http = http

    def _url(self) -> str:
        s = self.settings
        return f"{s.meta_graph_base.rstrip('/')}/{s.meta_graph_version}/{s.meta_whatsapp_phone_number_id}/messages"

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult:
        token = self.settings.meta_whatsapp_token
        headers = {"Authorization": f"Bearer {token.get_secret_value() if token else ''}"}
        try:
            response = await self.http.post(self._url(), json=request_body(message, attempt_id), headers=headers)
        except httpx.HTTPError as exc:
            raise from_exception(exc, NAME) from None
        if response.status_code >= 400:
            raise from_response(response, NAME)
        messages = response.json().get("messages") or [{}]
        return SendResult(provider_id=messages[0].get("id"), status="in-progress")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        return Reconciliation(Reconciled.UNKNOWN)
