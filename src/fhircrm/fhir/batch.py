"""Batch Bundles: independent entries, each answered on its own.

Each entry runs in its own savepoint through the same code as a one-entry transaction, so a failing entry is
rolled back alone (its response carries the status and OperationOutcome) and the others are kept.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from fhircrm.errors import Conflict, FhircrmError
from fhircrm.fhir.bundle_entries import Entry, error_entry
from fhircrm.fhir.store import FhirStore
from fhircrm.fhir.transactions import run_transaction


async def run_batch(store: FhirStore, entries: list[Entry], *, base: str, ret: str) -> list[dict]:
    answers: list[dict] = []
    for entry in entries:
        savepoint = await store.conn.begin_nested()
        try:
            answers.extend(await run_transaction(store, [entry], base=base, ret=ret))
        except FhircrmError as exc:
            await savepoint.rollback()
            answers.append(error_entry(exc))
        except IntegrityError:  # a concurrent writer created the same resource first
            await savepoint.rollback()
            answers.append(error_entry(Conflict(f"{entry.where}: a concurrent write changed this resource; retry")))
        else:
            await savepoint.commit()
    return answers
