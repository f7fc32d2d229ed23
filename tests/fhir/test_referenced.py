"""read_reference: unknown or deleted reads as missing (None); a database error is never taken for "missing"."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.stores import TESTS

from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.references import relative, split, target
from fhircrm.stores import open_store


async def test_a_reference_reads_its_resource_or_none_when_unknown_or_deleted(clean_engine: AsyncEngine) -> None:
    async with clean_engine.begin() as conn:
        store = open_store(conn, policy=TESTS)
        kept = (await store.create({"resourceType": "Patient", "active": True})).content
        deleted = (await store.create({"resourceType": "Patient", "active": False})).content
        await store.delete("Patient", deleted["id"])
        assert (await read_reference(store, f"Patient/{kept['id']}"))["id"] == kept["id"]
        assert await read_reference(store, f"Patient/{deleted['id']}") is None  # 410 Gone
        assert await read_reference(store, "Patient/not-there") is None  # 404
        assert await read_reference(store, "Nonsense/1") is None  # an unknown type: 404 too
        for other in (None, "", "#contained", f"Patient/{kept['id']}/_history/1", "https://ehr/fhir/Patient/1"):
            assert await read_reference(store, other) is None


async def test_a_database_error_propagates(clean_engine: AsyncEngine) -> None:
    """An outage (here: the table gone within this transaction, rolled back) is an error, not a missing resource."""
    async with clean_engine.connect() as conn:
        store = open_store(conn, policy=TESTS)
        await conn.execute(sa.text("ALTER TABLE resource RENAME TO resource_away"))
        with pytest.raises(DBAPIError):
            await read_reference(store, "Patient/1")
        await conn.rollback()


def test_references_are_taken_apart_in_one_place() -> None:
    assert split("Patient/1") == ("Patient", "1")
    assert relative("Patient/1") == ("Patient", "1")
    assert relative("Patient/1/_history/2") is None
    assert relative("https://ehr.example/fhir/Patient/1") is None
    assert target("https://ehr.example/fhir/Patient/1/_history/2", "https://ehr.example/fhir") == ("Patient", "1")
    assert target("Appointment/a") == ("Appointment", "a")
    assert target("nothing") is None
