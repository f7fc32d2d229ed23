"""The FHIR API a demo load writes to: this process's own app (`in_process_api`: the ASGI app with its lifespan
run, talked to through httpx without a socket) or any FHIR server (`remote_api`), one transaction at a time.

Shared by the in-process seed (``fhircrm.demo.seed``) and its loader processes (``fhircrm.demo.loader_pool``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from fhircrm.config import Settings
from fhircrm.db import analyze
from fhircrm.demo.wire import encode_transaction

FHIR_JSON = "application/fhir+json"
IN_PROCESS_BASE = "http://fhircrm.local/fhir"
_POST_HEADERS = {"Content-Type": FHIR_JSON, "Prefer": "return=minimal"}


class SeedError(RuntimeError):
    """The server refused a batch; carries the status and the start of its OperationOutcome."""


@dataclass(frozen=True)
class SeedReport:
    batches: int
    resources: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.resources / self.seconds if self.seconds else 0.0


async def post_transaction(client: httpx.AsyncClient, batch: bytes | list[dict[str, Any]]) -> None:
    """POST one batch (encoded, or resources to encode) as a transaction; anything but 200 is a SeedError.

    Nothing of a refused batch is stored (a transaction is all or nothing).
    """
    body = batch if isinstance(batch, bytes) else encode_transaction(batch)
    response = await client.post("", content=body, headers=_POST_HEADERS, timeout=600)
    if response.status_code != 200:
        raise SeedError(f"transaction refused with HTTP {response.status_code}: {response.text[:500]}")


@asynccontextmanager
async def in_process_api(
    settings: Settings, *, migrate: bool = True, analyze_after: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """This process's own fhircrm app (lifespan run: engine open; no embedded worker) and a client.

    `analyze_after` refreshes the planner statistics once the load is done (a bulk load); loader processes
    leave that to whoever started them, which does it once.
    """
    from fhircrm.app import create_app

    app = create_app(settings.model_copy(update={"embedded_worker": False}), migrate=migrate)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=IN_PROCESS_BASE, headers={"Accept": FHIR_JSON}
        ) as client:
            yield client
        if analyze_after:
            await analyze(app.state.engine)  # a bulk load: give the planner statistics before anyone queries


@asynccontextmanager
async def remote_api(url: str, connections: int = 8) -> AsyncIterator[httpx.AsyncClient]:
    """Any FHIR R4 server's base URL (another fhircrm, HAPI, ...)."""
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(
        base_url=url.rstrip("/"), headers={"Accept": FHIR_JSON}, limits=limits, timeout=600
    ) as client:
        yield client
