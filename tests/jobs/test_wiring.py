"""The worker's wiring: every installer is typed and given the Wiring, every timer kind a plan can create has its
dispatcher, and an event about a resource reads "gone" only when the store says so (NotFound, Gone)."""

from __future__ import annotations

import ast
import importlib
import inspect
import typing
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.stores import TESTS

from fhircrm.config import Settings
from fhircrm.events import DomainEvent, EventName
from fhircrm.fhir.store import FhirStore
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.timers.dispatch import COMPLETED, on_hold
from fhircrm.timers.resources import MESSAGE, SURVEY
from fhircrm.wiring import Wiring, about_subject
from fhircrm.worker import INSTALLERS, build_wiring

SRC = Path(__file__).resolve().parents[2] / "src" / "fhircrm"


def _wiring() -> Wiring:
    settings = Settings(environment="test", database_url="sqlite+aiosqlite:///:memory:")
    return build_wiring(Runtime(settings, None, None))  # type: ignore[arg-type]  (installing runs nothing)


@pytest.mark.parametrize("install", INSTALLERS, ids=lambda i: i.__module__)
def test_every_installer_takes_the_wiring_and_the_runtime(install) -> None:  # type: ignore[no-untyped-def]
    hints = typing.get_type_hints(install)
    assert hints == {"wiring": Wiring, "runtime": Runtime, "return": type(None)}
    assert list(inspect.signature(install).parameters) == ["wiring", "runtime"]


def planned_kinds() -> set[str]:
    """The kinds timers are planned with: ``kind=NAME`` of every ``TimerPlan(...)``/``message_plan(...)`` call
    under src/fhircrm (NAME resolved in its module), the default ``message``, and ``survey`` (a message timer
    whose data names a Questionnaire)."""
    kinds = {MESSAGE, SURVEY}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = None
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or getattr(node.func, "id", None) not in ("TimerPlan", "message_plan"):
                continue
            for keyword in node.keywords:
                if keyword.arg == "kind" and isinstance(keyword.value, ast.Name):
                    name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
                    module = module or importlib.import_module(name)
                    value = getattr(module, keyword.value.id, None)  # None: a parameter passed through
                    if isinstance(value, str):
                        kinds.add(value)
    return kinds


def test_every_timer_kind_a_plan_can_create_has_a_dispatcher() -> None:
    planned = planned_kinds()
    assert {"journey-step", "waitlist-hold-expiry"} <= planned  # the scan finds the internal kinds
    assert _wiring().timers.kinds == planned


def test_a_timer_kind_or_periodic_task_added_twice_is_refused() -> None:
    wiring = _wiring()
    with pytest.raises(ValueError, match="registered twice"):
        wiring.timers.register(MESSAGE, wiring.timers.send_message)
    with pytest.raises(ValueError, match="added twice"):
        wiring.every("jobs.purge", 60, wiring.periodic[0].func)


async def test_a_consumer_is_called_with_the_subject_and_skips_one_that_is_gone(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    settings = Settings(environment="test", database_url=database_url)
    seen: list[str] = []

    async def handle(_store: FhirStore, subject: dict, _event: DomainEvent) -> None:
        seen.append(subject["id"])

    consume = about_subject(settings, "tests", handle)
    async with clean_engine.begin() as conn:
        store = open_store(conn, settings, policy=TESTS)
        kept = (await store.create({"resourceType": "Patient", "active": True})).content or {}
        deleted = (await store.create({"resourceType": "Patient", "active": False})).content or {}
        await store.delete("Patient", deleted["id"])
        for ref in (f"Patient/{kept['id']}", f"Patient/{deleted['id']}", "Patient/never-there"):
            await consume(conn, DomainEvent(name=EventName.PATIENT_UPDATED, subject=ref, version="1"))
    assert seen == [kept["id"]]


async def test_a_database_outage_is_not_read_as_a_gone_subject(clean_engine: AsyncEngine, database_url: str) -> None:
    called: list[dict] = []

    async def handle(_store: FhirStore, subject: dict, _event: DomainEvent) -> None:
        called.append(subject)

    consume = about_subject(Settings(environment="test", database_url=database_url), "tests", handle)
    async with clean_engine.connect() as conn:
        await conn.close()  # the connection is lost: the read fails, it does not find nothing
        with pytest.raises(sa.exc.SQLAlchemyError):  # raised, so the event job is retried
            await consume(conn, DomainEvent(name=EventName.PATIENT_UPDATED, subject="Patient/any", version="1"))
    assert called == []


def test_a_dispatcher_outcome_closes_the_timer() -> None:
    request = {"resourceType": "CommunicationRequest", "id": "t", "status": "active"}
    assert COMPLETED.close(request) == {**request, "status": "completed"}
    held = on_hold("no dispatcher for timer kind x").close(request)
    assert held == {**request, "status": "on-hold", "statusReason": {"text": "no dispatcher for timer kind x"}}
