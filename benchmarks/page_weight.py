"""UI page weight (issue 20), run as `.venv/bin/python benchmarks/page_weight.py` (PostgreSQL, Debian Chromium).

Per page: median load (5 runs), transferred bytes cold (new context) and warm (reload), refresh bytes."""

import asyncio
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from pathlib import Path

from playwright.async_api import async_playwright
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, app_settings
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.servers import ThreadedServer, bound_socket, wait_until_up
from tests.ui.test_accessibility import sign_in, survey_path

from fhircrm.app import create_app
from fhircrm.demo.launcher import DemoOptions, load_if_empty, seed_inbox

PAGES = ["/ui/worklist", "/ui/inbox", "/ui/dashboard", "/ui/patients/demo-pat-000001", "/ui/patients?q=a"]


async def transferred(page, url):
    sizes = []

    async def done(req):
        s = await req.sizes()
        sizes.append(s["responseBodySize"] + s["responseHeadersSize"])

    page.on("requestfinished", lambda r: sizes.append(asyncio.ensure_future(done(r))))
    t0 = time.perf_counter()
    await page.goto(url, wait_until="load")
    ms = (time.perf_counter() - t0) * 1000
    await asyncio.sleep(0.3)
    futs = [s for s in sizes if not isinstance(s, int)]
    await asyncio.gather(*futs)
    total = sum(s for s in sizes if isinstance(s, int))
    return ms, total


async def main():
    name, url = create_pg_database()
    sock = bound_socket()
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = app_settings(
        url,
        base,
        Path(tempfile.mkdtemp()) / "key.json",
        auth_mode="jwt",
        auth_issuer=f"{base}/auth",
        auth_jwks_url=f"{base}/auth/jwks",
        ui_worklist_refresh_seconds=2.0,
        ui_inbox_refresh_seconds=2.0,
    )
    await load_if_empty(settings, DemoOptions("127.0.0.1", port, patients=60, days=60))
    await seed_inbox(settings)
    server = ThreadedServer(create_app(settings, migrate=False), sock)
    server.start()
    wait_until_up(f"{base}/fhir/metadata")
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = await browser.new_context()
            page = await sign_in(ctx, base)
            await page.goto(base + "/ui/worklist")
            patient = await page.locator("table.worklist tbody td:nth-child(3) a").first.get_attribute("href")
            PAGES[3] = patient
            state = await ctx.storage_state()
            await ctx.close()
            survey = survey_path(settings, "nps")
            rows = []
            for path in [*PAGES, survey]:
                loads, colds, warms = [], [], []
                for _ in range(5):
                    c = await browser.new_context(storage_state=state)
                    p = await c.new_page()
                    ms, cold = await transferred(p, base + path)
                    p2 = await c.new_page()
                    ms2, warm = await transferred(p2, base + path)
                    loads.append((ms, ms2))
                    colds.append(cold)
                    warms.append(warm)
                    raw = await p2.evaluate(
                        "async (u) => (await (await fetch(u)).text()).length",  # decoded HTML characters
                        base + path,
                    )
                    await c.close()
                rows.append(
                    (
                        path[:40],
                        statistics.median(x[0] for x in loads),
                        statistics.median(colds),
                        statistics.median(warms),
                        statistics.median(x[1] for x in loads),
                        raw,
                    )
                )
            # refresh bytes: one worklist / inbox refresh request
            for path, sel in [("/ui/worklist", "rows=1"), ("/ui/inbox", "fragment=list")]:
                c = await browser.new_context(storage_state=state)
                p = await c.new_page()
                got = []

                async def fin(r, got=got, sel=sel):
                    if sel in r.url:
                        s = await r.sizes()
                        got.append(s["responseBodySize"] + s["responseHeadersSize"])

                p.on("requestfinished", lambda r: asyncio.ensure_future(fin(r)))
                await p.goto(base + path)
                await asyncio.sleep(7)
                rows.append((f"refresh {path} ({len(got)} in 7 s)", 0, statistics.median(got) if got else 0, 0, 0, 0))
                await c.close()
            await browser.close()
            print(
                f"{'page':42} {'cold load ms':>12} {'warm load ms':>12} {'cold B':>9} {'warm B':>9} {'HTML chars':>10}"
            )
            for r in rows:
                print(f"{r[0]:42} {r[1]:12.0f} {r[4]:12.0f} {r[2]:9.0f} {r[3]:9.0f} {r[5]:10}")
    finally:
        server.stop()
        drop_pg_database(name)


asyncio.run(main())
