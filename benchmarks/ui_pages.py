"""Server time of each SMART app page on a demo clinic (target: under 300 ms each).

    .venv/bin/python benchmarks/ui_pages.py --patients 200            # SQLite scratch file
    .venv/bin/python benchmarks/ui_pages.py --patients 200 --postgres # scratch PostgreSQL database

Loads the demo clinic (free slots left out, as the tests do), runs an EHR launch against the development
authorization server in the same app, then requests each page ``--repeat`` times over ASGI and prints the median
and worst time per page (request in, HTML out; no network or browser rendering).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.browser import DEMO_PATIENT, app_settings, ehr_launch, load_demo, ui_app
from tests.fixtures.database import create_pg_database, drop_pg_database

from fhircrm.db import analyze, create_engine
from fhircrm.migrate import upgrade

PAGES = (f"/ui/patients/{DEMO_PATIENT}", "/ui/worklist", "/ui/inbox", "/ui/dashboard", "/ui/admin")


async def run(patients: int, repeat: int, postgres: bool) -> None:
    scratch = Path(tempfile.mkdtemp())
    name, url = create_pg_database() if postgres else (None, f"sqlite+aiosqlite:///{scratch}/bench.sqlite3")
    engine = create_engine(url)
    try:
        await upgrade(engine)
        settings = app_settings(url, "http://testserver", scratch / "key.json")
        started = time.perf_counter()
        await load_demo(engine, settings, patients=patients)
        await analyze(engine)  # as `fhircrm seed` does after a bulk load
        backend = "PostgreSQL" if postgres else "SQLite"
        print(f"loaded {patients} patients in {time.perf_counter() - started:.1f}s ({backend})")
        app = ui_app(engine, settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await ehr_launch(client)
            for path in PAGES:
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    response = await client.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                label = path.replace(DEMO_PATIENT, "{id}")
                print(f"{label:28s} median {statistics.median(times):6.1f} ms   worst {max(times):6.1f} ms")
        await app.state.http.aclose()
    finally:
        await engine.dispose()
        if name:
            drop_pg_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.patients, args.repeat, args.postgres))


if __name__ == "__main__":
    main()
