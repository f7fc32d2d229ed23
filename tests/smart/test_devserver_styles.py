"""The development approval page is styled under the app's own CSP (``style-src 'self'``): its styles come from
a stylesheet the server serves, none are inline; real Chromium applies them and reports no CSP violation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.servers import ThreadedServer, bound_socket
from tests.smart.test_devserver_flow import authorize_params, client, pkce  # noqa: F401 - the client fixture

from fhircrm.app import create_app
from fhircrm.config import Settings


async def test_the_approval_page_has_no_inline_styles_and_links_its_stylesheet(client: httpx.AsyncClient) -> None:  # noqa: F811
    _, challenge = pkce()
    page = await client.get("/auth/authorize", params=authorize_params(challenge))
    assert page.status_code == 200
    assert "style=" not in page.text
    assert "<style" not in page.text
    assert '<link rel="stylesheet" href="dev.css">' in page.text
    assert "style-src 'self'" in page.headers["content-security-policy"]
    css = await client.get("/auth/dev.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ".dev-banner" in css.text


@pytest.mark.slow
async def test_chromium_shows_the_approval_page_styled(
    clean_engine: AsyncEngine, database_url: str, tmp_path: Path, chromium
) -> None:
    sock = bound_socket()
    root = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        environment="test",
        database_url=database_url,
        base_url=f"{root}/fhir",
        dev_auth_enabled=True,
        dev_auth_key_file=tmp_path / "dev-key.json",
        embedded_worker=False,
    )
    server = ThreadedServer(create_app(settings, migrate=False), sock)
    server.start()
    try:
        page = await chromium.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        _, challenge = pkce()
        url = httpx.URL(f"{root}/auth/authorize", params=authorize_params(challenge, aud=f"{root}/fhir"))
        await page.goto(str(url))
        banner = page.locator(".dev-banner")
        assert await banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(176, 0, 32)"
        assert await page.evaluate("getComputedStyle(document.body).maxWidth") == "704px"  # 44rem
        assert violations == []
        await page.close()
    finally:
        server.stop()
