"""Read ndjson inputs a piece at a time from a byte offset: a local file (``fhircrm import``) or a URL (both
``fhircrm import URL`` and the ``$import`` worker, which checks the URL against server-side request forgery
first).

A piece is up to ``limit`` whole lines starting at ``offset``, with their 1-based numbers and the offset after
them: the import's cursor per input, committed with what the piece wrote, so an import resumes where it
stopped. A URL is asked for ``Range: bytes=offset-``; a server that ignores ranges is read from the start and
the first ``offset`` bytes are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True, slots=True)
class Piece:
    lines: list[tuple[int, bytes]]
    offset: int  # the byte offset after the last whole line read
    line: int  # the number of the last line read
    end: bool  # nothing follows


def read_file(path: Path, offset: int, line: int, limit: int) -> Piece:
    lines: list[tuple[int, bytes]] = []
    with path.open("rb") as handle:
        handle.seek(offset)
        while len(lines) < limit:
            raw = handle.readline()
            if not raw:
                return Piece(lines, offset, line, True)
            offset += len(raw)
            line += 1
            lines.append((line, raw))
        end = not handle.read(1)
    return Piece(lines, offset, line, end)


async def read_url(
    http: httpx.AsyncClient,
    url: str,
    offset: int,
    line: int,
    limit: int,
    *,
    headers: dict | None = None,
    sni_hostname: str | None = None,
) -> Piece:
    request_headers = {"Accept": "application/fhir+ndjson", **(headers or {})}
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
    lines: list[tuple[int, bytes]] = []
    extensions = {"sni_hostname": sni_hostname} if sni_hostname else None
    async with http.stream("GET", url, headers=request_headers, timeout=60.0, extensions=extensions) as response:
        if response.status_code == 416:  # nothing after the offset
            return Piece([], offset, line, True)
        response.raise_for_status()
        skip = offset if response.status_code != 206 else 0
        buffer = b""
        async for chunk in response.aiter_bytes():
            if skip:
                cut = min(skip, len(chunk))
                chunk, skip = chunk[cut:], skip - cut
            buffer += chunk
            while len(lines) < limit and (newline := buffer.find(b"\n")) >= 0:
                raw, buffer = buffer[: newline + 1], buffer[newline + 1 :]
                offset += len(raw)
                line += 1
                lines.append((line, raw))
            if len(lines) >= limit:
                return Piece(lines, offset, line, False)
        if buffer:  # a last line without a newline
            offset += len(buffer)
            line += 1
            lines.append((line, buffer))
    return Piece(lines, offset, line, True)
