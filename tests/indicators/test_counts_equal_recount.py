"""The maintained appointment counts (``indicator_daily``, kept by the store's write-time listener) equal a full
recount after a varied clinic: creates, status changes, moves, late and early cancellations, deletes, risk
re-assessments, a bundle of back-dated history; and every figure read from them (indicators, dashboard periods)
equals the same figure recounted from the visits. ``fhircrm indicators rebuild`` recounts them as a command."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.fixtures import factories
from tests.fixtures.cli import cli_env, run_fhircrm
from tests.fixtures.populations import NOW, Writer
from tests.fixtures.stores import TESTS
from tests.indicators.test_dashboard_figures import RISK, _clinic

from fhircrm.clock import fhir_datetime
from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.indicators.appointments import indicator
from fhircrm.indicators.dashboard import dashboard_figures
from fhircrm.indicators.facts import all_appointments, facts, tally
from fhircrm.indicators.matched import matched
from fhircrm.indicators.measures import MEASURES
from fhircrm.indicators.periods import Maintained, Recounted
from fhircrm.indicators.slices import SERVICE_LINE_SYSTEM, Slice
from fhircrm.indicators.tables import indicator_daily, indicator_fact
from fhircrm.indicators.upkeep import rebuild
from fhircrm.stores import open_store


def _visit(patient: str, status: str, start: datetime, **extra: object) -> dict:
    return factories.appointment(
        status=status,
        start=fhir_datetime(start),
        end=fhir_datetime(start + timedelta(minutes=20)),
        patient=f"Patient/{patient}",
        **extra,
    )


def _assessment(patient: str, visit: dict, band: str) -> dict:
    """A no-show RiskAssessment of ``visit`` in ``band`` (the latest one gives the visit's band)."""
    return {
        "resourceType": "RiskAssessment",
        "status": "final",
        "subject": {"reference": f"Patient/{patient}"},
        "basis": [{"reference": f"Appointment/{visit['id']}"}],
        "prediction": [{"qualitativeRisk": {"coding": [{"system": RISK, "code": band}]}}],
    }


async def _day_sums_equal_a_rebuild(writer: Writer) -> None:
    async with writer.engine.connect() as conn:
        daily = {tuple(r) for r in await conn.execute(sa.select(indicator_daily))}
    async with writer.engine.begin() as conn:
        await rebuild(conn)
        assert daily == {tuple(r) for r in await conn.execute(sa.select(indicator_daily))}


async def _varied(w: Writer) -> None:
    """The dashboard clinic, then every kind of change to it."""
    await _clinic(w)
    patient = (await w.patient())["id"]
    north = (await w.search("Location", ("name", "North")))[0]["id"]
    follow_up = {"appointmentType": {"coding": [{"code": "FOLLOWUP"}]}}
    line = {"serviceType": [{"coding": [{"system": SERVICE_LINE_SYSTEM, "code": "derm", "display": "Dermatology"}]}]}
    # status changes: booked -> fulfilled (a follow-up), booked -> cancelled (late, then a move makes it early)
    seen = await w.write(_visit(patient, "booked", NOW - timedelta(days=9, hours=3), **follow_up))
    await w.write({**seen, "status": "fulfilled"})
    late = await w.write(_visit(patient, "booked", NOW + timedelta(hours=5), **line))
    late = await w.write({**late, "status": "cancelled"})
    moved = await w.write(_visit(patient, "noshow", NOW - timedelta(days=30, hours=1)))
    await w.write({**moved, "start": fhir_datetime(NOW - timedelta(days=2, minutes=7)), "status": "arrived"})
    # a visit at a Location, then the Location dropped; one deleted; one whose risk was assessed and withdrawn
    where = await w.write(_visit(patient, "noshow", NOW - timedelta(days=40)))
    where["participant"].append({"actor": {"reference": f"Location/{north}"}, "status": "accepted"})
    where = await w.write(where)
    await w.write({**where, "participant": where["participant"][:1]})
    gone = await w.write(_visit(patient, "noshow", NOW - timedelta(days=1)))
    await w.run(lambda store: store.delete("Appointment", gone["id"]))
    assessed = await w.write(_visit(patient, "noshow", NOW - timedelta(days=3), **follow_up))
    risk = await w.write(_assessment(patient, assessed, "high"))
    await w.run(lambda store: store.delete("RiskAssessment", risk["id"]))
    # back-dated history in one bundle: visits of the last year, at every hour, in every status
    statuses = ("fulfilled", "noshow", "cancelled", "booked", "arrived", "checked-in", "entered-in-error")
    history = [
        Operation(
            "POST",
            "Appointment",
            resource=_visit(patient, statuses[i % len(statuses)], NOW - timedelta(days=i * 3, hours=i % 24), **line),
        )
        for i in range(120)
    ]
    await w.run(lambda store: store.apply(history))


async def _recounted(store: FhirStore) -> Recounted:
    return Recounted([(fact.start, fact.cells()) for fact in (await facts(all_appointments(store))).values()])


async def test_day_sums_equal_a_rebuild_after_every_kind_of_change(writer: Writer) -> None:
    await _varied(writer)

    async def tables() -> tuple[set, set]:
        async with writer.engine.connect() as conn:
            daily = {tuple(r) for r in await conn.execute(sa.select(indicator_daily))}
            fact = {
                (r.fhir_id, str(r.start), json.dumps(r.cells)) for r in await conn.execute(sa.select(indicator_fact))
            }
        return daily, fact

    maintained = await tables()
    async with writer.engine.begin() as conn:
        assert await rebuild(conn) == 10 + 5 + 120  # the clinic, the changed ones (one deleted), the history
    assert maintained == await tables()


async def test_figures_from_day_sums_equal_a_recount(writer: Writer) -> None:
    await _varied(writer)

    async def compare(store: FhirStore) -> None:
        recounted = await _recounted(store)
        maintained = Maintained(store)
        periods = [
            (NOW - timedelta(days=30), NOW),
            (NOW - timedelta(days=400), NOW + timedelta(days=30)),
            (datetime(2031, 6, 1, tzinfo=UTC), datetime(2031, 6, 14, tzinfo=UTC)),
            (NOW - timedelta(hours=20), NOW + timedelta(hours=6)),
            (NOW - timedelta(days=1, hours=1), NOW - timedelta(days=1)),
        ]
        for since, until in periods:
            for end_included in (False, True):
                assert await maintained.between(since, until, end_included=end_included) == await recounted.between(
                    since, until, end_included=end_included
                ), (since, until, end_included)
        north = (await store.search("Location", [("name", "North")])).matches[0]["id"]
        slices = [
            Slice(NOW - timedelta(days=30), NOW),
            Slice(NOW - timedelta(days=365), NOW + timedelta(days=1), location=f"Location/{north}"),
            Slice(NOW - timedelta(days=365, hours=5), NOW, service_line="derm"),
        ]
        for s in slices:
            found = matched(store, "Appointment", s.appointment_params())
            cells = tally(await facts(all_appointments(store).narrowed(found.pks)))
            for measure in MEASURES:
                assert await indicator(measure)(store, s, None) == measure.figures(cells), (measure.id, s)

    await writer.run(compare)


async def test_the_dashboard_reads_the_day_sums_as_it_would_recount(writer: Writer) -> None:
    await _varied(writer)
    from_sums = await writer.run(lambda store: dashboard_figures(store, NOW))
    async with writer.engine.begin() as conn:  # without the day sums every figure is off ...
        await conn.execute(sa.delete(indicator_daily))
    assert await writer.run(lambda store: dashboard_figures(store, NOW)) != from_sums
    async with writer.engine.begin() as conn:  # ... and a rebuild brings back the same figures
        await rebuild(conn)
    assert await writer.run(lambda store: dashboard_figures(store, NOW)) == from_sums
    assert from_sums["measures"]["follow-up-adherence"] == {
        "title": "Follow-up visits attended",
        "numerator": 1,
        "denominator": 2,
        "value": 0.5,
        "period": "last 12 weeks",
    }


async def test_fhircrm_indicators_rebuild_recounts_the_day_sums(
    writer: Writer, database_url: str, tmp_path: Path
) -> None:
    await _clinic(writer)
    async with writer.engine.connect() as conn:
        before = {tuple(r) for r in await conn.execute(sa.select(indicator_daily))}
    async with writer.engine.begin() as conn:
        await conn.execute(sa.delete(indicator_daily))
        await conn.execute(sa.delete(indicator_fact))
    result = run_fhircrm("indicators", "rebuild", env=cli_env(database_url=database_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"rebuilt": "indicator counts", "appointments": 10}
    async with writer.engine.connect() as conn:
        assert {tuple(r) for r in await conn.execute(sa.select(indicator_daily))} == before


async def test_two_transactions_recounting_one_visit_wait_for_each_other(writer: Writer) -> None:
    """Two risk assessments of one visit written at once: the second recount waits for the first and counts from
    its result (the first replaces the visit's fact row; a row lock alone let the second insert it again)."""
    if writer.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are the PostgreSQL deployment; SQLite holds one write lock")
    patient = (await writer.patient())["id"]
    visit = await writer.write(_visit(patient, "booked", NOW + timedelta(days=2)))

    waiting = sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = :db")
    async with writer.engine.connect() as first, writer.engine.connect() as watch:
        await first.begin()
        await open_store(first, writer.settings, policy=TESTS).create(_assessment(patient, visit, "high"))
        second = asyncio.create_task(writer.write(_assessment(patient, visit, "low")))
        try:  # the second waits on a lock held by the first (however slow the machine: up to two minutes)
            for _ in range(2400):
                if second.done() or (await watch.execute(waiting, {"db": writer.engine.url.database})).scalar():
                    break
                await watch.rollback()  # pg_stat_activity is read once per transaction: look again in a new one
                await asyncio.sleep(0.05)
            waited = not second.done()
        finally:
            await first.commit()  # never leave the first open: a failing run would hang on it
        await second
    assert waited, "the second recount did not wait for the first"
    await _day_sums_equal_a_rebuild(writer)


async def test_a_change_no_cell_is_read_from_recounts_nothing(writer: Writer) -> None:
    """A comment on a visit, a note on its risk assessment: no cell is read from them, so the write neither reads
    nor writes the counts; a status change does."""
    patient = (await writer.patient())["id"]
    visit = await writer.write(_visit(patient, "booked", NOW + timedelta(days=2)))
    risk = await writer.write(_assessment(patient, visit, "high"))
    counts: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "indicator_" in statement:
            counts.append(statement)

    sa.event.listen(writer.engine.sync_engine, "before_cursor_execute", seen)
    try:
        visit = await writer.write({**visit, "comment": "Bring the referral letter"})
        await writer.write({**risk, "note": [{"text": "Reviewed by phone"}]})
        assert counts == []
        await writer.write({**visit, "status": "cancelled"})
        assert counts
    finally:
        sa.event.remove(writer.engine.sync_engine, "before_cursor_execute", seen)
    await _day_sums_equal_a_rebuild(writer)


async def test_held_rows_take_more_resources_than_a_statement_has_bind_variables(writer: Writer) -> None:
    """A segment slice holds every visit its search matched: 40,000 ids are more than SQLite's 32,766 bind
    variables, so they go as literals there (arrays on PostgreSQL), and the visits among them are found."""
    patient = (await writer.patient())["id"]
    visit = await writer.write(_visit(patient, "noshow", NOW - timedelta(days=2)))
    async with writer.engine.connect() as conn:
        store = FhirStore(conn)
        (pk,) = (await conn.execute(store.select("Appointment", [("_id", visit["id"])]).pks)).one()
        held = await all_appointments(store).held([*range(10**9, 10**9 + 40_000), pk])
        assert list(await facts(held)) == [visit["id"]]
