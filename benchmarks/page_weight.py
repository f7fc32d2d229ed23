"""UI page weight (issue 20), run as `.venv/bin/python benchmarks/page_weight.py` (PostgreSQL, Debian Chromium).

Per page: median load (5 runs), transferred bytes cold (new context) and warm (second tab), decoded HTML size; the
live lists' refresh bytes; and the worklist filter and an inbox thread opened in place (inplace.js) against the
same page loaded in full. Serves the demo clinic as tests/ui does (tests.fixtures.browser.demo_server).

Figures (2026-12-02, load average 17.9/18.7/18.9 on 2 shared cores; all of them in benchmarks/README.md): worklist
cold 2617 ms / 11,514 B, warm 3,031 B; one worklist refresh 1,715 B, one inbox refresh 930 B; the worklist filter
in place 1155 ms against 2023 ms for the full page, an inbox thread 2383 ms against 2590 ms."""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, demo_server, sign_in, survey_path
from tests.fixtures.database import create_pg_database, drop_pg_database

PAGES = ["/ui/worklist", "/ui/inbox", "/ui/dashboard", "/ui/patients/demo-pat-000001", "/ui/patients?q=a"]
RUNS = 5
IN_PLACE = """async ([selector, value]) => {
  const swapped = new Promise((done) => document.addEventListener("fhircrm:swapped", done, { once: true }));
  const t0 = performance.now();
  if (value !== null) document.querySelector("#filters select[name=status]").value = value;
  if (value === null) document.querySelector(selector).click();
  else document.querySelector(selector).requestSubmit();
  await swapped;
  return performance.now() - t0;
}"""


def watch_bytes(page, keep=lambda url: True):
    """Transferred bytes (headers + body, as on the wire) of the page's finished requests, by URL."""
    sizes: list[asyncio.Future] = []

    async def size(request):
        s = await request.sizes()
        return s["responseBodySize"] + s["responseHeadersSize"]

    page.on("requestfinished", lambda r: sizes.append(asyncio.ensure_future(size(r))) if keep(r.url) else None)

    async def total() -> int:
        await asyncio.sleep(0.3)
        return sum(await asyncio.gather(*sizes))

    return sizes, total


async def load(page, url):
    _sizes, total = watch_bytes(page)
    t0 = time.perf_counter()
    await page.goto(url, wait_until="load")
    return (time.perf_counter() - t0) * 1000, await total()


async def in_place_vs_full(browser, state, base, settle):
    """Median ms of the worklist filter and an inbox thread, in place (inplace.js) and as full page loads."""
    context = await browser.new_context(storage_state=state)
    page = await context.new_page()
    await page.goto(base + "/ui/worklist")
    filter_in_place, filter_full, filter_bytes = [], [], []
    for n in range(RUNS * 2):
        status = "completed" if n % 2 == 0 else "open"
        sizes, total = watch_bytes(page, lambda url: "/ui/worklist?" in url)
        filter_in_place.append(await page.evaluate(IN_PLACE, ["#filters", status]))
        filter_bytes.append(await total())
        sizes.clear()
        filter_full.append((await load(page, f"{base}/ui/worklist?status={status}"))[0])
        await asyncio.sleep(settle)
    await page.goto(base + "/ui/inbox")
    threads = await page.locator(".threads li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    for href in threads:  # opened once first: the first opening marks a thread read (a write) and would favour full
        await page.goto(base + href)
    thread_in_place, thread_full, thread_bytes = [], [], []
    for n in range(RUNS * 2):
        href = threads[n % len(threads)]
        await page.goto(base + "/ui/inbox")
        _sizes, total = watch_bytes(page, lambda url, href=href: url.endswith(href))
        thread_in_place.append(await page.evaluate(IN_PLACE, [f'.threads a[href="{href}"]', None]))
        thread_bytes.append(await total())
        thread_full.append((await load(page, base + href))[0])
        await asyncio.sleep(settle)
    await context.close()
    med = statistics.median
    return [
        ("worklist filter", med(filter_in_place), med(filter_full), med(filter_bytes)),
        ("inbox thread open", med(thread_in_place), med(thread_full), med(thread_bytes)),
    ]


async def main():
    name, url = create_pg_database()
    try:
        async with demo_server(
            url,
            Path(tempfile.mkdtemp()) / "key.json",
            patients=60,
            days=60,
            ui_worklist_refresh_seconds=2.0,
            ui_inbox_refresh_seconds=2.0,
        ) as (base, settings):
            await measure(base, settings)
    finally:
        drop_pg_database(name)


async def measure(base, settings):
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = await browser.new_context()
        page = await sign_in(ctx, base)
        await page.goto(base + "/ui/worklist")
        PAGES[3] = await page.locator("table.worklist tbody td:nth-child(3) a").first.get_attribute("href")
        print("worklist rows:", await page.locator("table.worklist tbody tr[id]").count())
        state = await ctx.storage_state()
        await ctx.close()
        rows = []
        for path in [*PAGES, survey_path(settings, "nps")]:
            cold_ms, warm_ms, colds, warms = [], [], [], []
            for _ in range(RUNS):
                c = await browser.new_context(storage_state=state)
                ms, cold = await load(await c.new_page(), base + path)
                second = await c.new_page()
                ms2, warm = await load(second, base + path)
                cold_ms.append(ms)
                warm_ms.append(ms2)
                colds.append(cold)
                warms.append(warm)
                raw = await second.evaluate("async (u) => (await (await fetch(u)).text()).length", base + path)
                nodes = await second.evaluate("() => document.getElementsByTagName('*').length")
                await c.close()
            med = statistics.median
            rows.append((path[:40], med(cold_ms), med(warm_ms), med(colds), med(warms), raw, nodes))
        refreshes = []
        for path, marker in [("/ui/worklist", "rows=1"), ("/ui/inbox", "fragment=list")]:
            c = await browser.new_context(storage_state=state)
            p = await c.new_page()
            await p.goto(base + path)
            sizes, total = watch_bytes(p, lambda url, marker=marker: marker in url)
            await asyncio.sleep(7)
            got = len(sizes)
            refreshes.append((path, got, (await total()) / max(got, 1)))
            await c.close()
        swaps = await in_place_vs_full(browser, state, base, settle=0.2)
        await browser.close()
    load_avg = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1/5/15 min) {load_avg}; medians of {RUNS} runs; bytes as transferred (brotli/gzip)")
    print(f"{'page':42} {'cold ms':>8} {'warm ms':>8} {'cold B':>9} {'warm B':>8} {'HTML chars':>10} {'DOM':>5}")
    for r in rows:
        print(f"{r[0]:42} {r[1]:8.0f} {r[2]:8.0f} {r[3]:9.0f} {r[4]:8.0f} {r[5]:10} {r[6]:5}")
    for path, got, each in refreshes:
        print(f"refresh {path:34} {got} requests in 7 s, {each:.0f} B each")
    print(f"{'in place vs full load':42} {'in place ms':>11} {'full ms':>8} {'in place B':>10}")
    for label, fast, full, size in swaps:
        print(f"{label:42} {fast:11.0f} {full:8.0f} {size:10.0f}")


asyncio.run(main())
