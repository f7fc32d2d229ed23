"""How an HTTP provider's failure maps to retry or give up, shared by the HTTP adapters."""

from __future__ import annotations

import httpx

from fhircrm.channels.model import PermanentError, TransientError


def from_response(response: httpx.Response, provider: str) -> Exception:
    """429/503: not taken, retry. Other 5xx: may have been taken (reconcile before resending). 4xx: refused."""
    retry_after = _retry_after(response)
    if response.status_code in (429, 503):
        return TransientError(f"{provider} busy ({response.status_code})", retry_after=retry_after)
    if response.status_code >= 500:
        return TransientError(f"{provider} error ({response.status_code})", accepted_unknown=True)
    return PermanentError(f"{provider} refused the message ({response.status_code})", code="rejected")


def from_exception(exc: httpx.HTTPError, provider: str) -> TransientError:
    """Connection never made: surely not sent. A read timeout: the provider may have it."""
    unknown = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return TransientError(f"{provider} unreachable ({type(exc).__name__})", accepted_unknown=unknown)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
