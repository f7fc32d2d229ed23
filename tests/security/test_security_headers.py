"""Security headers from one middleware on every response: the API, UI pages, refusals and 413s."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

EHR = "https://ehr.example.org"


@pytest.fixture
def framed(app: FastAPI) -> FastAPI:
    app.state.settings = app.state.settings.model_copy(update={"app_frame_ancestors": [EHR]})
    return app


async def test_api_answers_are_nosniff_no_referrer_and_never_framed(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/Patient"), await client.get("/Patient/missing")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_no_hsts_over_plain_http(client: httpx.AsyncClient) -> None:
    assert "strict-transport-security" not in (await client.get("/metadata")).headers


async def test_hsts_when_the_tls_proxy_says_the_request_came_over_https(client: httpx.AsyncClient) -> None:
    response = await client.get("/metadata", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_hsts_when_served_over_https_directly(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get("/fhir/metadata")
    assert "strict-transport-security" in response.headers


async def test_ui_pages_may_be_framed_only_by_this_origin_and_the_configured_ehr(
    framed: FastAPI, client: httpx.AsyncClient
) -> None:
    page = await client.get("http://testserver/ui/worklist")  # no session: the sign-in page (an HTML refusal)
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert policy.endswith(f"frame-ancestors 'self' {EHR}")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_a_page_with_its_own_policy_keeps_it(client: httpx.AsyncClient) -> None:
    page = await client.get("http://testserver/channels/webchat/demo")  # embeds the widget as a clinic site would
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_a_413_from_the_size_limit_carries_the_headers_too(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"max_request_bytes": 10})
    response = await client.post("/Patient", content=b"{" + b" " * 100 + b"}")
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"
