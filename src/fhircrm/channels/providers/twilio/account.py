"""The one client of the Twilio REST account that Messaging and Voice both use: URL, basic auth, error mapping."""

from __future__ import annotations

from typing import Any

import httpx

from fhircrm.channels.model import PermanentError
from fhircrm.channels.providers.http_errors import from_exception, from_response
from fhircrm.config import Settings

MESSAGING = "twilio"
VOICE = "twilio-voice"


def configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


class TwilioAccount:
    def __init__(self, settings: Settings, http: httpx.AsyncClient):
        self.settings = settings
        self.http = http

    def url(self, resource: str) -> str:
        """``Messages.json`` or ``Calls.json`` under the configured account."""
        base = self.settings.twilio_api_base.rstrip("/")
        return f"{base}/2010-04-01/Accounts/{self.settings.twilio_account_sid}/{resource}"

    def _auth(self) -> tuple[str, str]:
        token = self.settings.twilio_auth_token
        return (self.settings.twilio_account_sid or "", token.get_secret_value() if token else "")

    async def create(self, resource: str, form: dict[str, str], *, undeliverable: frozenset[int] = frozenset()) -> Any:
        """POST a new message or call; a Twilio error code in ``undeliverable`` means this number never gets it."""
        response = await self._call("POST", resource, data=form)
        if response.status_code >= 400:
            code = _error_code(response)
            if code in undeliverable:
                raise PermanentError(f"twilio error {code}", code="undeliverable")
            raise from_response(response, MESSAGING)
        return response.json()

    async def list(self, resource: str, params: dict[str, str]) -> Any:
        response = await self._call("GET", resource, params=params)
        if response.status_code >= 400:
            raise from_response(response, MESSAGING)
        return response.json()

    async def _call(self, method: str, resource: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, self.url(resource), auth=self._auth(), **kwargs)
        except httpx.HTTPError as exc:
            raise from_exception(exc, MESSAGING) from None


def _error_code(response: httpx.Response) -> int | None:
    try:
        return int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        return None
