"""The access table, enforced: a matrix generated from ``fhircrm.smart.access_table``.

* Policy level, every type x token kind x interaction (no HTTP): ``SmartPolicy`` answers what the table says.
* Over HTTP, one representative type per access class x token kind x interaction (read, vread, instance and
  type history, search, create, conditional create, update, conditional update, patch, delete, conditional
  delete, a transaction entry, a batch entry), with real SMART tokens, on PostgreSQL and SQLite: an allowed
  cell answers 2xx for the patient's own resource and for another patient's, a narrowed cell 2xx for its own and
  403 (or absent from a search) for the other's, a denied cell 403 for both; and what a refused write would have
  written is not there.

The clinic is ``roles_clinic.two_sites``: ``pat-n1`` is within everyone's reach (its GP is dr-n, in co-n's north
team, in sup's org-a, and the patient app's launch patient); ``pat-x`` is within nobody's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import FHIR_BASE, secured_app, seed, token
from tests.security.roles_clinic import two_sites

from fhircrm.errors import Forbidden
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.smart.access_table import CLASSES, INTERACTIONS, KINDS, SYSTEM_INTERACTIONS, access_class, decide
from fhircrm.smart.context import AccessContext
from fhircrm.smart.errors import InsufficientScope
from fhircrm.smart.policy import SmartPolicy
from fhircrm.smart.roles import Staff

OWN, OTHER = "pat-n1", "pat-x"
#: token kind -> (scope, claims)
TOKENS: dict[str, tuple[str, dict]] = {
    "patient": ("launch/patient patient/*.cruds", {"patient": OWN, "fhirUser": f"Patient/{OWN}"}),
    "user": ("openid fhirUser user/*.cruds", {"fhirUser": "Practitioner/dr-n"}),
    "clinician": ("openid fhirUser user/*.cruds", {"fhirUser": "Practitioner/dr-n"}),
    "coordinator": ("openid fhirUser user/*.cruds", {"fhirUser": "Practitioner/co-n"}),
    "supervisor": ("openid fhirUser user/*.cruds", {"fhirUser": "Practitioner/sup"}),
    "administrator": ("openid fhirUser user/*.cruds", {"fhirUser": "Practitioner/adm"}),
    "system": ("system/*.cruds", {"fhirUser": None}),
}
STAFF = {
    "clinician": Staff("Practitioner/dr-n", frozenset({"clinician"}), own=("Practitioner/dr-n",)),
    "coordinator": Staff("Practitioner/co-n", frozenset({"coordinator"}), team=("Practitioner/co-n",)),
    "supervisor": Staff("Practitioner/sup", frozenset({"supervisor"}), organizations=("Organization/a",)),
    "administrator": Staff("Practitioner/adm", frozenset({"administrator"})),
}


def ref(reference: str) -> dict:
    return {"reference": reference}


def _observation(patient: str) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}, "subject": ref(patient)}


def _communication(patient: str) -> dict:
    return {"resourceType": "Communication", "status": "completed", "subject": ref(patient)}


def _flag(patient: str) -> dict:
    return {"resourceType": "Flag", "status": "active", "code": {"text": "needs interpreter"}, "subject": ref(patient)}


def _group(patient: str) -> dict:
    return {"resourceType": "Group", "type": "person", "actual": True, "member": [{"entity": ref(patient)}]}


CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"


def _consent(patient: str) -> dict:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": ref(patient),
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
    }


def _provenance(patient: str) -> dict:
    return {
        "resourceType": "Provenance",
        "target": [ref(patient)],
        "recorded": "2026-12-01T09:00:00Z",
        "agent": [{"who": ref("Practitioner/dr-n")}],
    }


HOOK = "https://hooks.example.org/fhir"


def _subscription(_: str) -> dict:
    return {
        "resourceType": "Subscription",
        "status": "off",
        "reason": "matrix",
        "criteria": "Appointment?status=booked",
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://hooks.example.org/fhir",
            "payload": "application/fhir+json",
        },
    }


def _location(_: str) -> dict:
    return {"resourceType": "Location", "name": "Annex"}


def _value_set(_: str) -> dict:
    return {"resourceType": "ValueSet", "status": "draft", "name": "Matrix"}


def _medication(_: str) -> dict:
    return {"resourceType": "Medication", "code": {"text": "amoxicillin"}}


def _linkage(_: str) -> dict:
    return {"resourceType": "Linkage", "item": [{"type": "source", "resource": ref("Location/loc-north")}]}


@dataclass(frozen=True)
class Sample:
    """A representative type of an access class and how to make one of its resources for a patient."""

    resource_type: str
    make: Callable[[str], dict]

    @property
    def patient_bound(self) -> bool:
        return access_class(self.resource_type).patient_bound


SAMPLES: dict[str, Sample] = {
    "patient-record": Sample("Observation", _observation),
    "engagement": Sample("Communication", _communication),
    "derived": Sample("Flag", _flag),
    "population": Sample("Group", _group),
    "consent": Sample("Consent", _consent),
    "audit": Sample("Provenance", _provenance),
    "subscription": Sample("Subscription", _subscription),
    "directory": Sample("Location", _location),
    "configuration": Sample("ValueSet", _value_set),
    "reference-data": Sample("Medication", _medication),
    "unlinked": Sample("Linkage", _linkage),
}


def test_every_class_has_a_sample_of_its_own() -> None:
    assert set(SAMPLES) == {cls.name for cls in CLASSES}
    for cls in CLASSES:
        assert SAMPLES[cls.name].resource_type in cls.types


# --- policy level: every type -----------------------------------------------------------------------------------


def _policy(kind: str) -> SmartPolicy:
    scope, claims = TOKENS[kind]
    access = AccessContext.from_claims({"scope": scope, **{k: v for k, v in claims.items() if v}})
    return SmartPolicy(access, STAFF.get(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_the_policy_answers_what_the_table_says_for_every_type(kind: str) -> None:
    policy = _policy(kind)
    cells = 0
    for resource_type in sorted(RESOURCE_TYPE_SET):
        for interaction in INTERACTIONS:
            expected = decide(kind, interaction, resource_type)
            cells += 1
            if expected == "deny":
                with pytest.raises(Forbidden):
                    policy.allow(interaction, resource_type)
            elif expected == "allow":
                assert policy.allow(interaction, resource_type) is None, (kind, interaction, resource_type)
            else:
                branches = policy.allow(interaction, resource_type)
                assert branches, (kind, interaction, resource_type)
    for interaction in SYSTEM_INTERACTIONS:
        cells += 1
        if decide(kind, interaction, "Resource") == "deny":
            with pytest.raises(Forbidden):
                policy.allow(interaction, "Resource")
        else:
            assert policy.allow(interaction, "Resource") is None
    assert cells == len(RESOURCE_TYPE_SET) * len(INTERACTIONS) + len(SYSTEM_INTERACTIONS)


def test_a_type_outside_the_table_is_refused_to_everyone() -> None:
    for kind in KINDS:
        with pytest.raises(Forbidden):
            _policy(kind).allow("read", "SubscriptionStatus")


def test_scopes_still_come_first() -> None:
    """The table never widens a token: a patient app with Observation scopes only reads no Location."""
    access = AccessContext.from_claims({"scope": "patient/Observation.rs", "patient": OWN})
    with pytest.raises(InsufficientScope):
        SmartPolicy(access).allow("read", "Location")


# --- over HTTP: one type per class ----------------------------------------------------------------------------


@pytest.fixture
async def apps(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[dict[str, FastAPI]]:
    """Two APIs on one clinic: roles enforced (every kind but ``user``) and scope-only (``user``)."""
    await seed(clean_engine, *two_sites())
    allowlist = {"subscriptions_allowed_endpoints": ["https://hooks.example.org/"]}
    async with (
        secured_app(clean_engine, database_url, roles_enforced=True, **_known(allowlist)) as enforced,
        secured_app(clean_engine, database_url, roles_enforced=False, **_known(allowlist)) as scope_only,
    ):
        yield {"enforced": enforced, "scope-only": scope_only}


def _known(settings: dict) -> dict:
    """Only settings this build has (the endpoint allowlist arrives with the Subscription checks)."""
    from fhircrm.config import Settings

    return {k: v for k, v in settings.items() if k in Settings.model_fields}


def _client(apps: dict[str, FastAPI], kind: str) -> httpx.AsyncClient:
    scope, claims = TOKENS[kind]
    app = apps["scope-only" if kind == "user" else "enforced"]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {token(scope, **claims)}"}
    return httpx.AsyncClient(transport=transport, base_url=FHIR_BASE, headers=headers)


class Cells:
    """Collects every cell's answer, so one run shows all the wrong ones at once."""

    def __init__(self) -> None:
        self.wrong: list[str] = []
        self.count = 0

    def check(self, label: str, response: httpx.Response, expected: set[int]) -> None:
        self.count += 1
        if response.status_code not in expected:
            self.wrong.append(f"{label}: {response.status_code} (expected {sorted(expected)}) {response.text[:160]}")


def _ok(decision: str, own: bool, success: int) -> set[int]:
    if decision == "allow" or (decision == "narrow" and own):
        return {success}
    return {403}


def _deleted(decision: str, own: bool) -> set[int]:
    """A delete answers 204, or 200 with an OperationOutcome when the client prefers one."""
    allowed = _ok(decision, own, 204)
    return allowed | {200} if 204 in allowed else allowed


async def _stored(engine: AsyncEngine, resource_type: str, fhir_id: str) -> dict | None:
    from tests.fixtures.stores import TESTS

    from fhircrm.stores import open_store

    async with engine.begin() as conn:
        try:
            return (await open_store(conn, policy=TESTS).read(resource_type, fhir_id)).content
        except Exception:  # gone or unknown: not stored
            return None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("class_name", list(SAMPLES))
async def test_the_api_enforces_the_table(
    apps: dict[str, FastAPI], clean_engine: AsyncEngine, class_name: str, kind: str
) -> None:
    sample = SAMPLES[class_name]
    rtype = sample.resource_type
    bound = sample.patient_bound
    resources = {}
    for name, patient in (("own", OWN), ("other", OTHER), ("spare", OWN), ("spare-other", OTHER), ("cond", OWN)):
        body = {**sample.make(f"Patient/{patient}"), "id": f"m-{name}"}
        resources[name] = body
    await seed(clean_engine, *resources.values())
    d = {interaction: decide(kind, interaction, rtype) for interaction in INTERACTIONS}
    cells = Cells()
    async with _client(apps, kind) as api:
        for name, own in (("own", True), ("other", not bound)):
            rid = f"m-{name}"
            cells.check(f"read {name}", await api.get(f"/{rtype}/{rid}"), _ok(d["read"], own, 200))
            cells.check(f"vread {name}", await api.get(f"/{rtype}/{rid}/_history/1"), _ok(d["vread"], own, 200))
            history = await api.get(f"/{rtype}/{rid}/_history")
            cells.check(f"history-instance {name}", history, _ok(d["history-instance"], own, 200))
        search = await api.get(f"/{rtype}", params={"_count": "50"})
        cells.check("search", search, {403} if d["search"] == "deny" else {200})
        if search.status_code == 200:
            ids = {e["resource"]["id"] for e in search.json().get("entry", [])}
            expect_other = d["search"] == "allow" or not bound
            if "m-own" not in ids or ("m-other" in ids) != expect_other:
                cells.wrong.append(f"search found {sorted(ids)} (narrowed: {d['search'] == 'narrow'})")
        cells.check("history-type", await api.get(f"/{rtype}/_history"), _ok(d["history-type"], True, 200))

        for name, patient, own in (("own", OWN, True), ("other", OTHER, not bound)):
            body = sample.make(f"Patient/{patient}")
            created = await api.post(f"/{rtype}", json=body)
            cells.check(f"create {name}", created, _ok(d["create"], own, 201))
            conditional = await api.post(f"/{rtype}", json=body, headers={"If-None-Exist": f"_id=none-{name}-{kind}"})
            cells.check(f"conditional create {name}", conditional, _ok(d["create"], own, 201))

            update = {**resources[name], "language": "en"}
            cells.check(f"update {name}", await api.put(f"/{rtype}/m-{name}", json=update), _ok(d["update"], own, 200))
            patch = [{"op": "add", "path": "/language", "value": "es"}]
            patched = await api.patch(
                f"/{rtype}/m-{name}", json=patch, headers={"Content-Type": "application/json-patch+json"}
            )
            cells.check(f"patch {name}", patched, _ok(d["patch"], own, 200))
            spare = "spare" if name == "own" else "spare-other"
            deleted = await api.delete(f"/{rtype}/m-{spare}")
            cells.check(f"delete {name}", deleted, _deleted(d["delete"], own))
            refused = d["delete"] == "deny" or (d["delete"] == "narrow" and not own)
            if refused and await _stored(clean_engine, rtype, f"m-{spare}") is None:
                cells.wrong.append(f"delete {name}: refused but deleted")

        cond_update = {**resources["cond"], "language": "fr"}
        cells.check(
            "conditional update",
            await api.put(f"/{rtype}", params={"_id": "m-cond"}, json=cond_update),
            _ok(d["update"], True, 200),
        )
        cells.check(
            "conditional delete",
            await api.delete(f"/{rtype}", params={"_id": "m-cond"}),
            _deleted(d["delete"], True),
        )

        entry = {"resource": sample.make(f"Patient/{OWN}"), "request": {"method": "POST", "url": rtype}}
        transaction = await api.post("/", json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
        cells.check("transaction entry", transaction, _ok(d["create"], True, 200))
        batch = await api.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]})
        cells.check("batch", batch, {200})
        if batch.status_code == 200:
            status = batch.json()["entry"][0]["response"]["status"]
            cells.count += 1
            if not status.startswith("201" if d["create"] != "deny" else "403"):
                cells.wrong.append(f"batch entry: {status}")
    assert cells.wrong == [], f"{class_name} x {kind}: {len(cells.wrong)} of {cells.count} cells wrong"


@pytest.mark.parametrize("kind", KINDS)
async def test_system_level_history_and_search_follow_the_table(apps: dict[str, FastAPI], kind: str) -> None:
    """``GET /fhir/_history`` once listed other clinicians' patients to a clinician (issue 13, item 4)."""
    expected = {200} if decide(kind, "history-system", "Resource") == "allow" else {403}
    async with _client(apps, kind) as api:
        assert (await api.get("/_history")).status_code in expected
        assert (await api.get("/", params={"_type": "Patient"})).status_code in expected


@pytest.mark.parametrize("kind", KINDS)
async def test_everything_follows_the_patient_record_row(apps: dict[str, FastAPI], kind: str) -> None:
    decision = decide(kind, "operation", "Patient")
    async with _client(apps, kind) as api:
        own = await api.get(f"/Patient/{OWN}/$everything")
        other = await api.get(f"/Patient/{OTHER}/$everything")
    assert own.status_code in _ok(decision, True, 200), own.text
    assert other.status_code in _ok(decision, False, 200), other.text


@pytest.mark.parametrize("kind", KINDS)
async def test_validate_follows_the_validate_column(apps: dict[str, FastAPI], kind: str) -> None:
    """``$validate`` at type level (nothing stored is read) and at instance level (the instance is read under the
    caller's reach: a narrowed caller validates only its own patient's)."""
    decision = decide(kind, "validate", "Patient")
    patient = {"resourceType": "Patient", "gender": "female"}
    async with _client(apps, kind) as api:
        typed = await api.post("/Patient/$validate", json=patient)
        own = await api.post(f"/Patient/{OWN}/$validate", json={**patient, "id": OWN})
        other = await api.post(f"/Patient/{OTHER}/$validate", json={**patient, "id": OTHER})
    assert typed.status_code == (403 if decision == "deny" else 200), typed.text
    assert own.status_code in _ok(decision, True, 200), own.text
    assert other.status_code in _ok(decision, False, 200), other.text


def test_docs_security_shows_the_table_as_it_is() -> None:
    from pathlib import Path

    from fhircrm.smart.access_table import markdown

    text = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    start = text.index("-->\n", text.index("<!-- access-table:start")) + 4
    assert text[start : text.index("<!-- access-table:end -->")] == markdown()
