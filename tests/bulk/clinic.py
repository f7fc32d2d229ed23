"""A small seeded clinic for the Bulk Data tests, the worker's bulk steps run in-process, and content hashes."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.stores import TESTS

from fhircrm.bulk.install import install as install_bulk
from fhircrm.config import Settings
from fhircrm.fhir.store import Operation
from fhircrm.jobs.runner import JobRunner
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.wiring import Wiring

PATIENTS = ("p1", "p2", "p3")


def clinic() -> list[dict]:
    """Three patients, each with observations (one lab), an encounter, an appointment and a message; a
    practitioner; a Group of p1 and p2."""
    out: list[dict] = [
        {"resourceType": "Practitioner", "id": "dr-1", "name": [{"family": "Reed"}]},
        {
            "resourceType": "Group",
            "id": "g1",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": "Patient/p1"}}, {"entity": {"reference": "Patient/p2"}}],
        },
    ]
    for pid in PATIENTS:
        out.append(
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": f"Family-{pid}", "given": ["Ann"]}],
                "birthDate": "1980-02-03",
                "generalPractitioner": [{"reference": "Practitioner/dr-1"}],
            }
        )
        for n, category in enumerate(("laboratory", "vital-signs", "vital-signs")):
            out.append(
                {
                    "resourceType": "Observation",
                    "id": f"obs-{pid}-{n}",
                    "status": "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": category,
                                }
                            ]
                        }
                    ],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "subject": {"reference": f"Patient/{pid}"},
                    "valueQuantity": {"value": 60 + n, "unit": "/min"},
                }
            )
        out += [
            {
                "resourceType": "Encounter",
                "id": f"enc-{pid}",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"reference": f"Patient/{pid}"},
            },
            {
                "resourceType": "Appointment",
                "id": f"appt-{pid}",
                "status": "booked",
                "start": "2026-12-01T09:00:00Z",
                "end": "2026-12-01T09:30:00Z",
                "participant": [
                    {"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"},
                    {"actor": {"reference": "Practitioner/dr-1"}, "status": "accepted"},
                ],
            },
            {
                "resourceType": "Communication",
                "id": f"msg-{pid}",
                "status": "completed",
                "subject": {"reference": f"Patient/{pid}"},
                "recipient": [{"reference": f"Patient/{pid}"}],
            },
        ]
    return out


async def seed(engine: AsyncEngine, resources: list[dict]) -> None:
    async with engine.begin() as conn:
        await open_store(conn, policy=TESTS).apply([Operation("PUT", r["resourceType"], r["id"], r) for r in resources])


async def run_bulk_jobs(engine: AsyncEngine, settings: Settings) -> int:
    """What a worker does for Bulk Data, to completion, in this process."""
    wiring = Wiring()
    async with httpx.AsyncClient() as http:
        install_bulk(wiring, Runtime(settings, engine, http))
        return await JobRunner(engine, wiring.jobs).drain()


def content_hash(resource: dict) -> str:
    """A resource's content without meta.versionId and meta.lastUpdated (what an import assigns anew)."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    body = {k: v for k, v in resource.items() if k != "meta"}
    if meta:
        body["meta"] = meta
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def type_hashes(resources: Iterable[dict]) -> dict[str, tuple[int, str]]:
    """{type: (count, a hash of the sorted content hashes)}."""
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(content_hash(resource))
    return {
        t: (len(hashes), hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()) for t, hashes in by_type.items()
    }


async def stored(engine: AsyncEngine, types: Iterable[str] | None = None) -> list[dict]:
    """Every live resource in the database (of ``types``), straight from the resource table."""
    async with engine.connect() as conn:
        query = sa.text("SELECT content FROM resource WHERE deleted = false")
        rows = (await conn.execute(query)).scalars().all()
    out = [orjson.loads(r) if isinstance(r, str | bytes) else r for r in rows]
    wanted = set(types) if types is not None else None
    return [r for r in out if wanted is None or r["resourceType"] in wanted]


async def manifest_of(client: httpx.AsyncClient, location: str, engine: AsyncEngine, settings: Settings) -> dict:
    """Run the bulk steps, then read the status: the manifest (asserting the 200)."""
    await run_bulk_jobs(engine, settings)
    response = await client.get(location)
    assert response.status_code == 200, response.text
    return response.json()


async def download(client: httpx.AsyncClient, manifest: dict) -> list[dict]:
    out: list[dict] = []
    for item in manifest["output"]:
        response = await client.get(item["url"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in response.text.splitlines() if line]
        assert len(lines) == item["count"]
        assert {r["resourceType"] for r in lines} == {item["type"]}
        out += lines
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """A plain HTTP file server on loopback (no Range support: the reader skips to its offset), its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_ndjson(path: Path, resources: Iterable[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    return path
