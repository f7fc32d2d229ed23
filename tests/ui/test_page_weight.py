"""What the workspace sends over the wire, after a real EHR launch on the demo clinic: pages, JSON and static files
gzipped, static files under fingerprinted URLs cached for a year, no htmx, and the worklist's refresh fragment only
the rows. Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.fixtures.browser import ehr_launch

from fhircrm.assets import fingerprint


@pytest.fixture
async def signed_in(browser_client: httpx.AsyncClient) -> httpx.AsyncClient:
    assert (await ehr_launch(browser_client)).status_code == 303
    return browser_client


async def test_pages_and_json_are_gzipped_for_clients_that_accept_it(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/ui/worklist", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert "<h1>Worklist</h1>" in page.text  # the client decompressed it
    assert len(page.content) > 3 * int(page.headers["content-length"])  # over the wire: well under a third
    plain = await signed_in.get("/ui/worklist", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and "<h1>Worklist</h1>" in plain.text
    metadata = await signed_in.get("/fhir/metadata", headers={"Accept-Encoding": "gzip"})
    assert metadata.headers["content-encoding"] == "gzip" and metadata.json()["resourceType"] == "CapabilityStatement"


async def test_static_files_have_fingerprinted_urls_cached_for_a_year(signed_in: httpx.AsyncClient) -> None:
    page = (await signed_in.get("/ui/worklist")).text
    urls = re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page)
    assert {u.split("?")[0] for u in urls} == {"/ui/static/app.css", "/ui/static/app.js", "/ui/static/live.js"}
    assert "htmx" not in page  # no page uses it any more
    for url in urls:
        path, _, query = url.removeprefix("/ui/static/").partition("?v=")
        assert query == fingerprint(path) and len(query) == 12
        answer = await signed_in.get(url)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = await signed_in.get("/ui/static/app.css?v=000000000000")  # an old page's URL: not kept for long
    assert stale.status_code == 200 and stale.headers["cache-control"] == "public, max-age=3600"
    dashboard = (await signed_in.get("/ui/dashboard")).text
    assert "live.js" not in dashboard  # only the pages with live lists load the script


async def test_the_worklist_refresh_fragment_is_only_the_rows(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/ui/worklist")
    fragment = await signed_in.get("/ui/worklist?rows=1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="rows-count"' in fragment.text
    rows = set(re.findall(r'<tr id="(task-[^"]+)"', fragment.text))
    assert rows and rows == set(re.findall(r'<tr id="(task-[^"]+)"', page.text))
    assert 'data-live-seconds="60.0"' in page.text  # the default interval, a setting
