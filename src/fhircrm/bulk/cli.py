"""``fhircrm import FILE.ndjson|DIR|URL``: load ndjson into this installation's store, resumably.

Each piece of an input (``bulk_step_resources`` lines) is written through the store's normal write path (as
fhircrm's ``import`` service: validation, indexing, domain events) in one transaction with the input's cursor
(byte offset and line), kept in a ``bulk_job`` row named after the inputs (paths, sizes, modification times, or
URLs). Run the same command again after an interruption and it resumes where it stopped; once done, it says
so and writes nothing (``--again`` imports anew). A progress bar on a terminal, one summary line at the end;
the refused lines' OperationOutcomes go to ``--report`` (ndjson), their diagnostics never quote a value.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import orjson
import sqlalchemy as sa

from fhircrm.config import Settings, get_settings

#: fhircrm's own access when an operator imports from the command line
IMPORT_SCOPE_NAME = "import"


def _inputs(source: str) -> list[str]:
    if source.startswith(("http://", "https://")):
        return [source]
    path = Path(source)
    if path.is_dir():
        found = sorted(str(p.resolve()) for p in path.iterdir() if p.name.endswith((".ndjson", ".jsonl")))
        if not found:
            raise SystemExit(f"fhircrm import: no .ndjson files in {source}")
        return found
    if path.is_file():
        return [str(path.resolve())]
    raise SystemExit(f"fhircrm import: {source} is not a file, a directory or an http(s) URL")


def _identity(inputs: list[str]) -> str:
    parts = []
    for item in inputs:
        if item.startswith(("http://", "https://")):
            parts.append(item)
        else:
            stat = Path(item).stat()
            parts.append(f"{item}|{stat.st_size}|{stat.st_mtime_ns}")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fhircrm-import:" + "\n".join(parts)))


def _sizes(inputs: list[str]) -> list[int | None]:
    return [None if i.startswith(("http://", "https://")) else Path(i).stat().st_size for i in inputs]


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


class Progress:
    """A one-line progress bar on a terminal (stderr); silent otherwise."""

    def __init__(self, total_bytes: int | None) -> None:
        self.total = total_bytes
        self.tty = sys.stderr.isatty()

    def show(self, done_bytes: int, written: int, refused: int) -> None:
        if not self.tty:
            return
        if self.total:
            share = min(1.0, done_bytes / self.total)
            bar = "#" * int(share * 30)
            text = f"\rimporting [{bar:<30}] {share:4.0%}  {written:,} written, {refused:,} refused"
        else:
            text = f"\rimporting  {written:,} written, {refused:,} refused"
        sys.stderr.write(text)
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


async def run_import(settings: Settings, source: str, *, report: Path | None, again: bool) -> int:
    import httpx

    from fhircrm.bulk import sources
    from fhircrm.bulk.ingest import ingest
    from fhircrm.bulk.tables import bulk_file, bulk_job
    from fhircrm.db import create_engine
    from fhircrm.fhir.access import ServiceScope
    from fhircrm.fhir.store import now
    from fhircrm.jobs.queue import utcnow
    from fhircrm.migrate import upgrade
    from fhircrm.stores import open_store
    from fhircrm.subscriptions.owners import SERVICE

    inputs = _inputs(source)
    job_id = _identity(inputs)
    sizes = _sizes(inputs)
    progress = Progress(sum(s for s in sizes if s) if all(s is not None for s in sizes) else None)
    scope = ServiceScope(IMPORT_SCOPE_NAME)
    engine = create_engine(settings.database_url)
    started = time.monotonic()
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            row = (await conn.execute(sa.select(bulk_job).where(bulk_job.c.id == job_id))).first()
            if row is not None and again:
                await conn.execute(sa.delete(bulk_file).where(bulk_file.c.job_id == job_id))
                await conn.execute(sa.delete(bulk_job).where(bulk_job.c.id == job_id))
                row = None
            if row is None:
                await conn.execute(
                    sa.insert(bulk_job).values(
                        id=job_id,
                        kind="import-cli",
                        status="running",
                        owner=asdict(SERVICE),
                        request=f"fhircrm import {source}"[:2000],
                        params={"inputs": inputs},
                        cursor={"input": 0, "offset": 0, "line": 0, "refused": 0},
                        done_count=0,
                        transaction_time=now(),
                        created_at=utcnow(),
                    )
                )
            elif row.status == "done":
                print(f"already imported: {row.done_count} resources from {len(inputs)} input(s) (--again to repeat)")
                return 0
        async with httpx.AsyncClient(timeout=60.0) as http:
            while True:
                async with engine.begin() as conn:
                    job = (await conn.execute(sa.select(bulk_job).where(bulk_job.c.id == job_id))).one()
                    cursor = dict(job.cursor)
                    index = int(cursor["input"])
                    if index >= len(inputs):
                        await conn.execute(
                            sa.update(bulk_job)
                            .where(bulk_job.c.id == job_id)
                            .values(status="done", finished_at=utcnow())
                        )
                        break
                    item = inputs[index]
                    offset, line = int(cursor["offset"]), int(cursor["line"])
                    if item.startswith(("http://", "https://")):
                        piece = await sources.read_url(http, item, offset, line, settings.bulk_step_resources)
                    else:
                        piece = sources.read_file(Path(item), offset, line, settings.bulk_step_resources)
                    name = item.rsplit("/", 1)[-1]
                    result = await ingest(open_store(conn, settings, policy=scope), name, piece.lines)
                    if result.refused:
                        lines = [orjson.dumps(r).decode() for r in result.refused]
                        await conn.execute(
                            sa.insert(bulk_file).values(
                                job_id=job_id,
                                kind="error",
                                res_type="OperationOutcome",
                                count=len(lines),
                                content="\n".join(lines) + "\n",
                                created_at=utcnow(),
                            )
                        )
                    refused = int(cursor.get("refused", 0)) + len(result.refused)
                    if piece.end:
                        cursor = {"input": index + 1, "offset": 0, "line": 0, "refused": refused}
                    else:
                        cursor = {"input": index, "offset": piece.offset, "line": piece.line, "refused": refused}
                    await conn.execute(
                        sa.update(bulk_job)
                        .where(bulk_job.c.id == job_id)
                        .values(cursor=cursor, done_count=bulk_job.c.done_count + result.written)
                    )
                done_bytes = sum(s or 0 for s in sizes[:index]) + (
                    piece.offset if not piece.end else (sizes[index] or 0)
                )
                progress.show(done_bytes, job.done_count + result.written, refused)
        progress.close()
        async with engine.connect() as conn:
            job = (await conn.execute(sa.select(bulk_job).where(bulk_job.c.id == job_id))).one()
            errors = (
                await conn.execute(
                    sa.select(bulk_file.c.content).where(bulk_file.c.job_id == job_id).order_by(bulk_file.c.id)
                )
            ).scalars()
            outcomes = "".join(errors)
    finally:
        await engine.dispose()
    refused = int(job.cursor.get("refused", 0))
    if report is not None:
        _write(report, outcomes)
    seconds = time.monotonic() - started
    where = f" (report: {report})" if report is not None and refused else ""
    print(
        f"imported {job.done_count} resources from {len(inputs)} input(s) in {seconds:.1f}s; "
        f"{refused} line(s) refused{where}"
    )
    if refused and report is None:
        for text in outcomes.splitlines()[:20]:
            for issue in orjson.loads(text)["issue"]:
                print(f"  refused: {issue['diagnostics']}", file=sys.stderr)
    return 1 if refused else 0


def _import(args: argparse.Namespace) -> int:
    report = Path(args.report) if args.report else None
    return asyncio.run(run_import(get_settings(), args.source, report=report, again=args.again))


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "import", help="load ndjson (a file, a directory of .ndjson files or a URL) through the store, resumably"
    )
    parser.add_argument("source", help="FILE.ndjson, a directory of .ndjson files, or an http(s) URL")
    parser.add_argument("--report", help="write an OperationOutcome per refused line here (ndjson)")
    parser.add_argument("--again", action="store_true", help="import anew what was already imported")
    parser.set_defaults(handler=_import)
