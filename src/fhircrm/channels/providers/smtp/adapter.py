"""E-mail over SMTP: STARTTLS whenever the server offers it, HTML and text parts from the same template.

SMTP has no lookup of accepted mail, so a crash between the server's 250 and our commit reconciles as
UNKNOWN (a person checks) rather than sending the mail twice.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

from fhircrm.channels.model import (
    OutboundMessage,
    PermanentError,
    Reconciled,
    Reconciliation,
    SendResult,
    TransientError,
)
from fhircrm.config import Settings

NAME = "smtp"


def build_email(settings: Settings, message: OutboundMessage, attempt_id: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.smtp_from or ""
    email["To"] = message.address
    email["Subject"] = message.subject or ""
    email["Date"] = formatdate(localtime=False)
    domain = (settings.smtp_from or "fhircrm.local").rsplit("@", 1)[-1]
    email["Message-ID"] = f"<{attempt_id}@{domain}>"
    email["Content-Language"] = message.language
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


class SmtpAdapter:
    provider = NAME

    def __init__(self, settings: Settings):
        self.settings = settings

    def _send_blocking(self, email: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(email)

    async def send(self, message: OutboundMessage, *, attempt_id: str) -> SendResult:
        email = build_email(self.settings, message, attempt_id)
        try:
            await asyncio.to_thread(self._send_blocking, email)
        except smtplib.SMTPRecipientsRefused:
            raise PermanentError("recipient refused", code="undeliverable") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TransientError(f"smtp {exc.smtp_code}") from None
            raise PermanentError(f"smtp {exc.smtp_code}", code="rejected") from None
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            raise TransientError(f"smtp {type(exc).__name__}", accepted_unknown=True) from None
        except OSError as exc:  # connection refused, DNS
            raise TransientError(f"smtp unreachable ({type(exc).__name__})") from None
        return SendResult(provider_id=email["Message-ID"].strip("<>"), status="completed")

    async def reconcile(self, message: OutboundMessage, *, attempt_id: str, since: datetime) -> Reconciliation:
        return Reconciliation(Reconciled.UNKNOWN)
