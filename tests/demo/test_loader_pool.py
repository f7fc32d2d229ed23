"""``fhircrm seed`` with loader processes: the same data as the generator's, whatever the number of loaders.

On PostgreSQL two loader processes commit at once; on SQLite the one loader runs beside the generating process.
Either way every generated resource is stored exactly as generated (the store only stamps ``meta``), nothing
else is tagged as demo data, and seeding again updates in place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.api import make_settings
from tests.fixtures.database import truncate

from fhircrm.demo import ClinicSpec, iter_resources
from fhircrm.demo.loader_pool import seed_with_loaders
from fhircrm.demo.seed import Progress, run_seed

SPEC = ClinicSpec(patients=40, days=60, seed=11, today=dt.date(2025, 9, 15))


def without_stamps(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource minus what the server stamps (versionId, lastUpdated)."""
    meta = {k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    return {**resource, "meta": meta}


async def stored(engine: AsyncEngine) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
    """Every live resource: (type, id) -> (version, content)."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT res_type, fhir_id, version, content FROM resource WHERE NOT deleted"))
        return {(t, i): (v, c if isinstance(c, dict) else orjson.loads(c)) for t, i, v, c in rows}


async def test_loader_processes_store_exactly_the_generated_clinic_and_rerun_updates_in_place(
    engine: AsyncEngine, database_url: str
) -> None:
    await truncate(engine)
    settings = make_settings(database_url)
    jobs = 1 if database_url.startswith("sqlite") else 2
    expected = {(r["resourceType"], r["id"]): r for r in iter_resources(SPEC)}
    try:
        report = await seed_with_loaders(settings, SPEC, jobs=jobs)
        assert report.resources == len(expected)
        first = await stored(engine)
        demo = {key for key, (_, content) in first.items() if "demo" in str(content.get("meta", {}).get("tag"))}
        assert demo == set(expected)
        for key, resource in expected.items():
            assert without_stamps(first[key][1]) == without_stamps(resource), key

        again = await run_seed(settings, SPEC, jobs=jobs, progress=Progress(SPEC.patients, "", enabled=False))
        assert again.resources == report.resources
        second = await stored(engine)
        assert set(second) == set(first)
        for key in expected:
            assert without_stamps(second[key][1]) == without_stamps(first[key][1]), key
    finally:
        await truncate(engine)
