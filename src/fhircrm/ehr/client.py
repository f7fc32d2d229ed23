"""The EHR client: a small protocol, and its fhirpy implementation with auth, timeouts, retries and a breaker.

fhirpy speaks aiohttp. Its own error mapping drops the status code and headers, so every request carries a
``raise_for_status`` hook that turns an error answer into ``EhrHttpStatus`` (status + Retry-After) first; the
retry loop here then decides: 401 -> drop the token and retry once, 429/502/503/504 and network errors ->
retry with backoff honouring Retry-After (short waits in place, long ones become ``EhrUnavailable`` for the
job to retry later), 404/410 -> None, anything else -> ``EhrError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qsl

import aiohttp
import httpx
from fhirpy import AsyncFHIRClient

from fhircrm.config import Settings
from fhircrm.ehr.auth import Auth, NoAuth, build_auth
from fhircrm.ehr.errors import EhrError, EhrHttpStatus, EhrUnavailable, outcome_text
from fhircrm.ehr.resilience import RETRYABLE_STATUSES, CircuitBreaker, backoff_seconds, parse_retry_after

log = logging.getLogger(__name__)
Params = list[tuple[str, str]]


class EhrClient(Protocol):
    """What fhircrm asks of an EHR's FHIR server."""

    base_url: str

    async def read(self, resource_type: str, fhir_id: str) -> dict | None: ...
    async def search(self, resource_type: str, params: Params, *, max_pages: int = 20) -> list[dict]: ...
    async def create(self, resource: dict, *, if_none_exist: str | None = None) -> dict: ...
    async def update(self, resource: dict, *, criteria: str | None = None) -> dict: ...
    async def delete(self, resource_type: str, fhir_id: str) -> None: ...
    async def get(self, path: str, params: Params | None = None) -> dict | None: ...


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if response.status >= 400:
        detail = (await response.text())[:2000]
        raise EhrHttpStatus(response.status, parse_retry_after(response.headers.get("Retry-After")), detail)


def _params(params: Params | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in params or []:
        out.setdefault(key, []).append(value)
    return out


class FhirpyEhrClient:
    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        max_wait: float = 5.0,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth or NoAuth()
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep
        config = {"timeout": aiohttp.ClientTimeout(total=timeout), "raise_for_status": _raise_for_status}
        self._fhir = AsyncFHIRClient(self.base_url, aiohttp_config=config)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        data: dict | None = None,
        params: Params | None = None,
        headers: dict | None = None,
    ) -> Any:
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.breaker.check()
            extra = dict(headers or {})
            authorization = await self.auth.header()
            if authorization:
                extra["Authorization"] = authorization
            try:
                result = await self._fhir._do_request(
                    method, path, data=data, params=_params(params), extra_headers=extra
                )
            except EhrHttpStatus as exc:
                if exc.status == 401 and not refreshed:
                    self.auth.invalidate()  # a revoked or expired token: fetch a fresh one, once
                    refreshed = True
                    attempt -= 1
                    continue
                if exc.status in RETRYABLE_STATUSES:
                    self.breaker.failure()
                    wait = exc.retry_after if exc.retry_after is not None else backoff_seconds(attempt)
                    if attempt > self.max_retries or wait > self.max_wait:
                        raise EhrUnavailable(
                            f"the EHR answered {exc.status}", status=exc.status, retry_after=wait
                        ) from None
                    await self._sleep(wait)
                    continue
                self.breaker.success()  # the EHR is up; it refused this request
                if exc.status in (404, 410):
                    return None
                raise EhrError(
                    f"the EHR refused {method.upper()} {path.split('?')[0]}: HTTP {exc.status}",
                    status=exc.status,
                    detail=outcome_text(exc.detail),
                ) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.breaker.failure()
                if attempt > self.max_retries:
                    raise EhrUnavailable(
                        f"the EHR is unreachable ({type(exc).__name__})", retry_after=backoff_seconds(attempt)
                    ) from None
                await self._sleep(backoff_seconds(attempt))
                continue
            self.breaker.success()
            return _plain(result)

    async def read(self, resource_type: str, fhir_id: str) -> dict | None:
        return await self._request("get", f"{resource_type}/{fhir_id}")

    async def get(self, path: str, params: Params | None = None) -> dict | None:
        return await self._request("get", path, params=params)

    async def search(self, resource_type: str, params: Params, *, max_pages: int = 20) -> list[dict]:
        found: list[dict] = []
        bundle = await self._request("get", resource_type, params=params)
        for _ in range(max_pages):
            if not bundle:
                break
            found += [
                e["resource"]
                for e in bundle.get("entry", [])
                if e.get("search", {}).get("mode") != "include" and isinstance(e.get("resource"), dict)
            ]
            link = next((x.get("url") for x in bundle.get("link", []) if x.get("relation") == "next"), None)
            if not link:
                break
            bundle = await self._request("get", link)
        return found

    async def create(self, resource: dict, *, if_none_exist: str | None = None) -> dict:
        headers = {"Prefer": "return=representation"}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        return await self._request("post", resource["resourceType"], data=resource, headers=headers) or {}

    async def update(self, resource: dict, *, criteria: str | None = None) -> dict:
        headers = {"Prefer": "return=representation"}
        if criteria:  # conditional update: PUT Type?criteria
            params = parse_qsl(criteria, keep_blank_values=True)
            found = await self._request("put", resource["resourceType"], data=resource, params=params, headers=headers)
            return found or {}
        path = f"{resource['resourceType']}/{resource['id']}"
        return await self._request("put", path, data=resource, headers=headers) or {}

    async def delete(self, resource_type: str, fhir_id: str) -> None:
        await self._request("delete", f"{resource_type}/{fhir_id}")


def _plain(value: Any) -> Any:
    """fhirpy's AttrDicts as plain dicts and lists (what the store and JSON columns expect)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def build_client(settings: Settings, http: httpx.AsyncClient) -> FhirpyEhrClient:
    """The process's EHR client (one per process, so its circuit breaker sees every call)."""
    if not settings.ehr_base_url:
        raise EhrError("no EHR configured (FHIRCRM_EHR_BASE_URL)")
    return FhirpyEhrClient(
        settings.ehr_base_url,
        auth=build_auth(settings, http),
        timeout=settings.ehr_timeout_seconds,
        max_retries=settings.ehr_max_retries,
        max_wait=settings.ehr_max_retry_wait_seconds,
        breaker=CircuitBreaker(
            failures=settings.ehr_circuit_failures, reset_seconds=settings.ehr_circuit_reset_seconds
        ),
    )
