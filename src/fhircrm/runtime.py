"""What long-lived code shares in one process: settings, the engine and one HTTP client.

One ``httpx.AsyncClient`` per process (created in the app's lifespan or the worker's start), so connection pools
are shared and tests can fake third-party providers at the HTTP boundary with respx.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm import __version__
from fhircrm.config import Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    http: httpx.AsyncClient


def create_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=5.0),
        headers={"User-Agent": f"fhircrm/{__version__}"},
        follow_redirects=False,
    )
