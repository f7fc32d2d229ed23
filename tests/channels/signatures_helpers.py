"""Signed Twilio posts for tests outside the webhook module."""

from __future__ import annotations

from tests.channels.support import TWILIO

from fhircrm.channels.signatures import twilio_signature


async def post_sms(web, body: str, *, sid: str = "SM1", sender: str = "+15551230001"):
    form = {"MessageSid": sid, "From": sender, "To": TWILIO["twilio_sms_from"], "Body": body}
    signature = twilio_signature(
        "https://crm.example.org/channels/twilio/messages", form.items(), TWILIO["twilio_auth_token"]
    )
    return await web.post("/channels/twilio/messages", data=form, headers={"X-Twilio-Signature": signature})
