"""Bulk import: the ``$import`` kick-off's inputs, and the worker's steps (ping and pull).

The kick-off names ndjson inputs by URL, as a ``Parameters`` resource (``input`` parts ``type`` and ``url``, as
the Bulk Data import proposal writes them) or as a manifest (``output`` or ``input``: ``[{type, url}]``, the form
an export's manifest has). Each step reads the next lines of the current input from its byte offset, writes them
as the kick-off's caller (``fhircrm.bulk.ingest``: the store's normal write path under that caller's policy),
keeps an OperationOutcome per refused line in the job's error file, and commits the cursor with them.

URLs are fetched by the worker from inside the clinic's network, so they are checked like Subscription
endpoints (``fhircrm.subscriptions.endpoints``: no loopback, private or metadata addresses unless the operator
allows them in ``FHIRCRM_SUBSCRIPTIONS_ALLOWED_ENDPOINTS``; https in production), at kick-off and before each read.
"""

from __future__ import annotations

import logging

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.bulk import jobs, sources
from fhircrm.bulk.ingest import ingest
from fhircrm.config import Settings
from fhircrm.errors import BadRequest, Unprocessable
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs.queue import Job
from fhircrm.jobs.registry import RetryLater
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.subscriptions import endpoints
from fhircrm.subscriptions.owners import OwnerRefused

log = logging.getLogger(__name__)

INPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
MAX_INPUTS = 1000


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def inputs_of(body: object) -> list[dict]:
    """[{type, url}] from a Parameters resource or a manifest; 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("$import takes a Parameters resource or a manifest (a JSON object)")
    found: list[dict] = []
    if body.get("resourceType") == "Parameters":
        for item in _list(body.get("parameter")):
            if not isinstance(item, dict):
                continue
            name = item.get("name")
            if name == "inputFormat" and str(item.get("valueCode", item.get("valueString"))) not in INPUT_FORMATS:
                raise BadRequest("inputFormat must be application/fhir+ndjson", expression="inputFormat")
            if name == "input":
                parts = {str(p.get("name")): p for p in _list(item.get("part")) if isinstance(p, dict)}
                url = next((v for k, v in (parts.get("url") or {}).items() if k.startswith("value")), None)
                kind = next((v for k, v in (parts.get("type") or {}).items() if k.startswith("value")), None)
                found.append({"type": kind, "url": url})
    elif "resourceType" in body:
        raise BadRequest("$import takes a Parameters resource or a manifest", expression="resourceType")
    else:
        if body.get("inputFormat") is not None and str(body.get("inputFormat")) not in INPUT_FORMATS:
            raise BadRequest("inputFormat must be application/fhir+ndjson", expression="inputFormat")
        items = body.get("input", body.get("output"))
        if not isinstance(items, list):
            raise BadRequest("a manifest lists its inputs in output (or input): [{type, url}]", expression="output")
        found = [{"type": i.get("type"), "url": i.get("url")} for i in items if isinstance(i, dict)]
    if not found:
        raise BadRequest("$import names no input", expression="input")
    if len(found) > MAX_INPUTS:
        raise BadRequest(f"$import takes at most {MAX_INPUTS} inputs", expression="input")
    for i, item in enumerate(found):
        if not isinstance(item["url"], str) or not item["url"].startswith(("http://", "https://")):
            raise BadRequest(f"input {i + 1} needs an http(s) url", expression="input.url")
        if item["type"] is not None and (not isinstance(item["type"], str) or item["type"] not in RESOURCE_TYPE_SET):
            raise BadRequest(f"input {i + 1} names an unknown resource type", expression="input.type")
    return found


async def plan(store: FhirStore, settings: Settings, inputs: list[dict]) -> tuple[dict, dict]:
    """Check the kick-off under the caller's access: importing writes across many types and patients, so it
    needs what system-level search needs; each named type must be writable; each URL must be fetchable."""
    store.unrestricted("search-system", "Resource")
    for item in inputs:
        if item["type"]:
            store.branches("create", item["type"])
            store.branches("update", item["type"])
        try:
            await endpoints.check_written(item["url"], settings)
        except Unprocessable as exc:
            raise BadRequest(f"input url refused: {exc.diagnostics}", expression="input.url") from None
    return {"inputs": inputs}, {"input": 0, "offset": 0, "line": 0, "refused": 0}


def install_steps(runtime: Runtime):  # type: ignore[no-untyped-def]
    """The ``bulk.import`` job handler."""

    async def handle(conn: AsyncConnection, job: Job) -> None:
        await run_step(conn, runtime, job.payload["job"])

    return handle


async def run_step(conn: AsyncConnection, runtime: Runtime, job_id: str) -> None:
    settings = runtime.settings
    job = await jobs.load(conn, job_id, for_update=True)
    if job is None or job.status != "running":
        return
    try:
        scope = (await jobs.caller_store(conn, settings, job.owner)).scope
    except OwnerRefused:
        await jobs.fail(conn, job, jobs.OWNER_GONE, settings)
        return
    cursor = dict(job.cursor)
    inputs = job.params["inputs"]
    index = int(cursor["input"])
    if index >= len(inputs):
        await jobs.advance(conn, job, cursor, 0, finished=True, settings=settings)
        return
    url = inputs[index]["url"]
    try:
        target = await endpoints.target(url, settings)
        headers = {"Host": target.host_header} if target.host_header else None
        piece = await sources.read_url(
            runtime.http,
            target.url,
            int(cursor["offset"]),
            int(cursor["line"]),
            settings.bulk_step_resources,
            headers=headers,
            sni_hostname=target.sni_hostname,
        )
    except endpoints.EndpointRefused as refused:
        await jobs.fail(conn, job, f"input {index + 1} refused: {refused.reason}", settings)
        return
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code >= 500:
            raise RetryLater(f"input {index + 1}: HTTP {exc.response.status_code}") from None
        await jobs.fail(conn, job, f"input {index + 1} could not be read: HTTP {exc.response.status_code}", settings)
        return
    except (httpx.TransportError, OSError) as exc:
        raise RetryLater(f"input {index + 1} unreachable ({type(exc).__name__})") from None
    store = open_store(conn, settings, policy=scope)
    result = await ingest(store, f"input {index + 1}", piece.lines)
    await jobs.add_file(conn, job.id, "error", "OperationOutcome", [orjson.dumps(r).decode() for r in result.refused])
    refused = int(cursor.get("refused", 0)) + len(result.refused)
    if piece.end:
        cursor = {"input": index + 1, "offset": 0, "line": 0, "refused": refused}
    else:
        cursor = {"input": index, "offset": piece.offset, "line": piece.line, "refused": refused}
    await jobs.advance(
        conn, job, cursor, result.written, finished=piece.end and index + 1 >= len(inputs), settings=settings
    )
