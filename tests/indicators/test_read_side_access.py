"""The store's read side (selections, dated rows, locks) answers within the caller's access, as a search of theirs
would: a patient app's dashboard counts that patient's visits only, a band it may not see is "not assessed", a
lock of another patient's resource is refused; fhircrm's own work names its scope."""

from __future__ import annotations

import pytest
from tests.fixtures.populations import NOW, Writer
from tests.fixtures.stores import TESTS
from tests.indicators.test_dashboard_figures import _clinic, _rate

from fhircrm.errors import Forbidden
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.dashboard import dashboard_figures
from fhircrm.smart import AccessContext, Scopes
from fhircrm.smart.policy import SmartPolicy
from fhircrm.stores import open_store


def _patient_app(writer: Writer, patient_id: str, scopes: str = "patient/*.rs"):  # type: ignore[no-untyped-def]
    """``await work(store)`` as a SMART patient app launched for ``patient_id``."""
    access = AccessContext(subject="app", client_id="app", scopes=Scopes.parse(scopes), patient=patient_id)

    async def run(work):  # type: ignore[no-untyped-def]
        async with writer.engine.begin() as conn:
            return await work(open_store(conn, writer.settings, policy=SmartPolicy(access)))

    return run


async def _first_patient(writer: Writer) -> str:
    """p0 of the dashboard clinic: the patient of the fulfilled visit (a1)."""
    (a1,) = await writer.search("Appointment", ("status", "fulfilled"))
    return a1["participant"][0]["actor"]["reference"].removeprefix("Patient/")


async def test_a_patient_apps_dashboard_counts_only_that_patients_visits(writer: Writer) -> None:
    await _clinic(writer)
    figures = await _patient_app(writer, await _first_patient(writer))(lambda store: dashboard_figures(store, NOW))
    # p0: a1 fulfilled (North, Dr A, Cardiology, risk low), a4 arrived (South, Dermatology); a6 cancelled slot s1,
    # which a7 (p1's) took again: not p0's to see; a10 is 20 days ahead
    assert figures["overall"] == _rate(0, 2)
    assert figures["groups"]["service"] == {"Cardiology": _rate(0, 1), "Dermatology": _rate(0, 1)}
    assert figures["groups"]["location"] == {"North": _rate(0, 1), "South": _rate(0, 1)}
    assert figures["groups"]["provider"] == {"Dr A": _rate(0, 1)}
    assert figures["groups"]["band"] == {"low": _rate(0, 1), "not assessed": _rate(0, 1)}
    assert figures["confirmations"] == {"upcoming": 0, "confirmed": 0, "freed": 1, "recovered": 0}


async def test_a_band_the_caller_may_not_search_is_not_assessed(writer: Writer) -> None:
    await _clinic(writer)
    scopes = "patient/Appointment.rs patient/Location.rs patient/PractitionerRole.rs"
    figures = await _patient_app(writer, await _first_patient(writer), scopes)(
        lambda store: dashboard_figures(store, NOW)
    )
    assert figures["groups"]["band"] == {"not assessed": _rate(0, 2)}
    assert figures["overall"] == _rate(0, 2)


async def test_a_caller_without_access_to_appointments_gets_no_figures(writer: Writer) -> None:
    await _clinic(writer)
    with pytest.raises(Forbidden):
        await _patient_app(writer, await _first_patient(writer), "patient/Patient.rs")(
            lambda store: dashboard_figures(store, NOW)
        )


async def test_selections_count_what_the_callers_search_would(writer: Writer) -> None:
    await _clinic(writer)
    patient = await _first_patient(writer)

    async def counts(store: FhirStore) -> tuple[int, set[str]]:
        return await store.select("Appointment", []).count(), await store.select("Patient", []).ids()

    assert await _patient_app(writer, patient)(counts) == (4, {patient})  # a1, a4, a6, a10
    everyone = await writer.run(counts)
    assert everyone[0] == 10 and patient in everyone[1] and len(everyone[1]) == 3


async def test_a_lock_of_another_patients_resource_is_refused(writer: Writer) -> None:
    await _clinic(writer)
    patient = await _first_patient(writer)
    mine = {a["id"] for a in await writer.search("Appointment", ("patient", f"Patient/{patient}"))}
    theirs = next(a["id"] for a in await writer.search("Appointment") if a["id"] not in mine)
    as_patient = _patient_app(writer, patient)
    locked = await as_patient(lambda store: store.lock("Appointment", sorted(mine)[0]))
    assert locked is not None and locked.fhir_id == sorted(mine)[0]
    with pytest.raises(Forbidden):
        await as_patient(lambda store: store.lock("Appointment", theirs))
    assert await as_patient(lambda store: store.lock("Appointment", "no-such-appointment")) is None
    assert (await writer.run(lambda store: store.lock("Appointment", theirs))).fhir_id == theirs


def test_a_service_scope_reaches_everything_and_says_whose_it_is() -> None:
    scope = ServiceScope("timers")
    assert str(scope) == "service:timers"
    assert scope.allow("search", "Patient") is None and scope.allow("delete", "AuditEvent") is None
    assert str(TESTS) == "service:tests"
    with pytest.raises(ValueError, match="name"):
        ServiceScope("")


def test_a_store_cannot_be_opened_without_naming_its_access() -> None:
    with pytest.raises(TypeError, match="policy"):
        open_store(None, None)  # type: ignore[arg-type,call-arg]
