"""Import ndjson lines through the store's normal write path: full validation, indexing, access checks and the
write-time listeners (domain events, Subscriptions), in batches.

A line with an ``id`` is written with that id (``PUT``: an import keeps the ids an export gave, so references
between the files still hold); a line without one is created with a new id. A refused line is reported by its
number with the store's diagnostics (which never quote submitted values) and the rest of its batch still goes
in: the batch is retried without it, under a savepoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from fhircrm.errors import FhircrmError, Issue
from fhircrm.fhir.outcomes import operation_outcome
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.fhir.store import FhirStore, Operation

#: after this many refusals in one batch, the rest of it is written line by line
MAX_RETRIES = 8


@dataclass(slots=True)
class Result:
    written: int = 0
    #: one OperationOutcome per refused line: the line number (1-based, in its input) and why, no PHI
    refused: list[dict] = field(default_factory=list)


def refusal(source: str, line: int, issues: Sequence[Issue]) -> dict:
    """The report of one refused line: an OperationOutcome whose issues name the input and line."""
    outcome = operation_outcome(
        [Issue(f"{source} line {line}: {i.diagnostics}", i.code, i.severity, i.expression) for i in issues]
    )
    outcome["extension"] = [
        {"url": "http://fhircrm.org/StructureDefinition/bulk-import-line", "valueInteger": line},
        {"url": "http://fhircrm.org/StructureDefinition/bulk-import-input", "valueString": source[:500]},
    ]
    return outcome


def _operation(raw: bytes) -> Operation:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FhircrmError("not a JSON object (each ndjson line holds one resource)") from None
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FhircrmError("not a FHIR resource (no resourceType)")
    resource_type = body["resourceType"]
    if resource_type not in RESOURCE_TYPE_SET:
        raise FhircrmError(f"unknown resource type: {resource_type[:64]}")
    fhir_id = body.get("id")
    if isinstance(fhir_id, str):
        return Operation("PUT", resource_type, fhir_id, body)
    return Operation("POST", resource_type, None, body)


async def ingest(store: FhirStore, source: str, lines: Sequence[tuple[int, bytes]], *, batch: int = 500) -> Result:
    """Write ``lines`` ((line number, bytes)); blank lines are skipped. Within the caller's transaction."""
    result = Result()
    pending: list[tuple[int, Operation]] = []
    keys: set[tuple[str, str | None]] = set()
    for number, raw in lines:
        if not raw.strip():
            continue
        try:
            op = _operation(raw)
        except FhircrmError as exc:
            result.refused.append(refusal(source, number, [Issue(exc.diagnostics, "structure")]))
            continue
        key = (op.resource_type, op.fhir_id)
        if (op.fhir_id is not None and key in keys) or len(pending) >= batch:
            await _write(store, source, pending, result)  # the same resource twice: in order, in two batches
            pending, keys = [], set()
        pending.append((number, op))
        keys.add(key)
    await _write(store, source, pending, result)
    return result


async def _write(store: FhirStore, source: str, pending: list[tuple[int, Operation]], result: Result) -> None:
    retries = 0
    while pending:
        if retries >= MAX_RETRIES and len(pending) > 1:
            for item in pending:
                await _write(store, source, [item], result)
            return
        try:
            async with store.conn.begin_nested():
                await store.apply([op for _, op in pending])
        except FhircrmError as exc:
            index = getattr(exc, "operation", None)
            if not isinstance(index, int) or not 0 <= index < len(pending):
                index = 0 if len(pending) == 1 else None
            if index is None:  # not pinned on one line: find it line by line
                for item in pending:
                    await _write(store, source, [item], result)
                return
            result.refused.append(refusal(source, pending[index][0], exc.issues))
            pending = pending[:index] + pending[index + 1 :]
            retries += 1
            continue
        result.written += len(pending)
        return
