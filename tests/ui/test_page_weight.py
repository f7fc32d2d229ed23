"""What the workspace sends over the wire, after a real EHR launch on the demo clinic: pages, JSON and static files
gzipped (brotli when the package is installed and the client asks), static files under fingerprinted URLs cached for
a year, no htmx, the worklist's refresh fragment only the rows, and one assignee picker per worklist, not one per
row. Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.fixtures.browser import ehr_launch

from fhircrm.assets import fingerprint
from fhircrm.compression import accepts_brotli


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
    scripts = {"/ui/static/app.css", "/ui/static/app.js", "/ui/static/live.js", "/ui/static/inplace.js"}
    assert {u.split("?")[0] for u in urls} == scripts
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
    assert "live.js" not in dashboard and "inplace.js" not in dashboard  # only the pages that use them load them


async def test_the_worklist_refresh_fragment_is_only_the_rows(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/ui/worklist")
    fragment = await signed_in.get("/ui/worklist?rows=1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="rows-count"' in fragment.text
    rows = set(re.findall(r'<tr id="(task-[^"]+)"', fragment.text))
    assert rows and rows == set(re.findall(r'<tr id="(task-[^"]+)"', page.text))
    assert 'data-live-seconds="60.0"' in page.text  # the default interval, a setting


async def test_pages_and_static_files_go_brotli_to_browsers_that_ask_when_brotli_is_installed(
    signed_in: httpx.AsyncClient,
) -> None:
    brotli = pytest.importorskip("brotli")  # an optional extra: without it, gzip (the test above)
    for url in ("/ui/worklist", "/ui/static/live.js", "/fhir/metadata"):
        async with signed_in.stream("GET", url, headers={"Accept-Encoding": "br, gzip"}) as answer:
            raw = b"".join([chunk async for chunk in answer.aiter_raw()])
        assert answer.headers["content-encoding"] == "br", url
        assert "accept-encoding" in answer.headers["vary"].lower()
        assert len(brotli.decompress(raw)) > 2 * len(raw)  # real brotli, well compressed
    js = "/ui/static/live.js"
    by_br = await signed_in.get(js, headers={"Accept-Encoding": "br"})
    by_gzip = await signed_in.get(js, headers={"Accept-Encoding": "gzip"})
    assert by_gzip.headers["content-encoding"] == "gzip" and by_br.text == by_gzip.text
    assert int(by_br.headers["content-length"]) < int(by_gzip.headers["content-length"])
    refused = await signed_in.get(js, headers={"Accept-Encoding": "br;q=0, gzip"})
    assert refused.headers["content-encoding"] == "gzip"


def test_brotli_is_chosen_only_when_the_client_names_it_without_q0() -> None:
    assert accepts_brotli("gzip, deflate, br, zstd") and accepts_brotli("BR;q=0.5")
    assert not accepts_brotli("gzip") and not accepts_brotli("br;q=0") and not accepts_brotli("brx, gzip")


async def test_the_worklist_has_one_assignee_picker_not_one_per_row(signed_in: httpx.AsyncClient) -> None:
    page = (await signed_in.get("/ui/worklist")).text
    fragment = (await signed_in.get("/ui/worklist?rows=1", headers={"HX-Request": "true"})).text
    assert page.count('<select id="assignee" name="owner">') == 1
    assert 'value="reassign">Assign ticked</button>' in page
    assert "<tr id=" in fragment and "PractitionerRole/" not in fragment  # no staff list in the rows
    assert 'name="ids"' in fragment and 'form="bulk"' in fragment  # rows are ticked for the shared picker
