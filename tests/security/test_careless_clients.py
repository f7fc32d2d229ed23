"""Careless and malicious clients (issue #13): a few hundred inputs generated from lists, each sent where input
enters the API (path ids, type names, search names, values, modifiers, chains, ``_include``, the If-Match,
If-None-Exist, Prefer and Authorization headers, bodies), plus huge numbers, deep nesting, wrong JSON types,
truncated JSON, wrong content types, oversize bodies, bad patches, bad bundles and concurrent bursts.

For every attempt: no 5xx; a 4xx carries an OperationOutcome; an attempt meant to be refused is refused; and
nothing was stored (the count of resource versions is what the seed left). The test prints the attempts and
the answers by status, per database."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import orjson
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import FHIR_BASE, clinic, secured_app, seed, token

from fhircrm.fhir.sql.tables import resource_history

STAFF = "<staff>"  # a user/*.cruds token, minted when sent (one made at import would expire in a long session)
MAX_BYTES = 64 * 1024
MAX_ENTRIES = 50
JSON = "application/fhir+json"
#: every C0 class a client might slip in: NUL, other controls, the escape, the unit separator, DEL
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"]


@dataclass
class Attempt:
    group: str
    method: str
    url: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    refuse: bool = True  # must be answered 4xx (else: any answer but 5xx)
    bearer: str | None = STAFF


def pct(char: str) -> str:
    return f"%{ord(char):02X}"


def dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # nested deeper than orjson writes (the deep-nesting attempts)
        return json.dumps(value).encode()


def body(value: object, content_type: str = JSON) -> dict:
    return {"body": dumps(value), "headers": {"Content-Type": content_type}}


def patient(**elements: object) -> dict:
    return {"resourceType": "Patient", **elements}


def nested(levels: int) -> dict:
    extension: dict = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "http://example.org/level", "extension": [extension]}
    return patient(extension=[extension])


def transaction(*entries: dict, kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post_entry(resource: dict, full_url: str | None = None) -> dict:
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    return {"fullUrl": full_url, **entry} if full_url else entry


def binary_patch(ops: object) -> dict:
    data = base64.b64encode(dumps(ops)).decode()
    return {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}


def control_characters() -> list[Attempt]:
    attempts = []
    for c in CONTROLS:
        p, name = pct(c), f"{ord(c):02x}"
        attempts += [
            Attempt("control/id", "GET", f"/Patient/p1{p}x"),
            Attempt("control/id", "DELETE", f"/Patient/p1{p}"),
            Attempt("control/type", "GET", f"/Pat{p}ient"),
            Attempt("control/search-name", "GET", f"/Patient?family{p}=x"),
            Attempt("control/search-value", "GET", f"/Patient?family=Okafor{p}"),
            Attempt("control/search-value", "GET", f"/Patient?telecom=%2B1555{p}"),
            Attempt("control/modifier", "GET", f"/Patient?family:exact{p}=x"),
            Attempt("control/chain", "GET", f"/Patient?general-practitioner.name{p}=x"),
            Attempt("control/chain", "GET", f"/Patient?general-practitioner.name=Reed{p}"),
            Attempt("control/include", "GET", f"/Patient?_include=Patient:general-practitioner{p}"),
            Attempt(
                "control/if-match", "PUT", "/Patient/p1", **_with(body(patient(id="p1")), {"If-Match": f'W/"1{c}"'})
            ),
            Attempt(
                "control/if-none-exist",
                "POST",
                "/Patient",
                **_with(body(patient()), {"If-None-Exist": f"identifier=x{p}"}),
            ),
            Attempt(
                "control/prefer",
                "POST",
                "/Patient",
                **_with(body(patient(name=[{"family": f"x{c}"}])), {"Prefer": f"return=minimal{c}"}),
            ),
            Attempt("control/body-string", "POST", "/Patient", **body(patient(name=[{"family": f"Oka{c}for"}]))),
            Attempt("control/body-key", "POST", "/Patient", **body(patient(**{f"active{c}": True}))),
            Attempt("control/body-id", "PUT", f"/Patient/p1{p}", **body(patient(id=f"p1{c}", birthDate="2000-01-01"))),
            Attempt(
                "control/conditional-update",
                "PUT",
                f"/Patient?identifier=urn:x%7C{name}{p}",
                **body(patient()),
            ),
            Attempt("control/conditional-delete", "DELETE", f"/Patient?family=Family-p1{p}"),
        ]
    return attempts


def _with(parts: dict, headers: dict[str, str]) -> dict:
    return {"body": parts["body"], "headers": {**parts["headers"], **headers}}


def huge_numbers() -> list[Attempt]:
    big = "1" + "0" * 30
    return [
        Attempt("huge/offset", "GET", f"/Patient?_offset={big}"),
        Attempt("huge/count", "GET", f"/Patient?_count={big}"),
        Attempt("huge/history-offset", "GET", f"/Patient/_history?_offset={big}"),
        Attempt("huge/history-count", "GET", f"/_history?_count={big}"),
        Attempt("huge/instance-history", "GET", f"/Patient/p1/_history?_offset={big}"),
        Attempt("huge/vread", "GET", f"/Patient/p1/_history/{big}"),
        Attempt("huge/number", "GET", "/RiskAssessment?probability=1e400", refuse=False),
        Attempt("huge/number", "GET", f"/RiskAssessment?probability={'9' * 5000}", refuse=False),
        Attempt("huge/quantity", "GET", "/Observation?value-quantity=gt1e999", refuse=False),
        Attempt("huge/date", "GET", "/Patient?birthdate=99999-01-01"),
        Attempt("huge/date", "GET", f"/Patient?_lastUpdated=gt{'9' * 40}"),
        Attempt("huge/body-int", "POST", "/Patient", body=b'{"resourceType":"Patient","multipleBirthInteger":1e400}'),
        Attempt(
            "huge/body-int",
            "POST",
            "/Patient",
            body=b'{"resourceType":"Patient","multipleBirthInteger":' + b"9" * 10_000 + b"}",
        ),
        Attempt(
            "huge/body-int",
            "POST",
            "/Patient",
            body=b'{"resourceType":"Patient","multipleBirthInteger":' + big.encode() + b"}",
        ),
    ]


def deep_nesting() -> list[Attempt]:
    return [
        Attempt("deep/extensions", "POST", "/Patient", **body(nested(200))),
        Attempt("deep/extensions", "PUT", "/Patient/p1", **body({**nested(40), "id": "p1"})),
        Attempt("deep/lists", "POST", "/Patient", body=b"[" * 2000 + b"]" * 2000),
        Attempt("deep/objects", "POST", "/Patient", body=b'{"a":' * 5000 + b"1" + b"}" * 5000),
        Attempt("deep/bundle", "POST", "", **body(transaction(post_entry(nested(200))))),
        Attempt(
            "deep/patch",
            "PATCH",
            "/Patient/p1",
            **body(
                [{"op": "add", "path": "/extension", "value": nested(60)["extension"]}], "application/json-patch+json"
            ),
        ),
    ]


def wrong_json_types() -> list[Attempt]:
    bodies: list[object] = [
        {"resourceType": 7},
        ["resourceType", "Patient"],
        "Patient",
        42,
        None,
        patient(name="Okafor"),
        patient(active="yes"),
        patient(birthDate=19700101),
        patient(telecom={"system": "phone"}),
        patient(multipleBirthInteger="3"),
        patient(deceasedBoolean="false"),
        {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": "5"}},
        patient(meta="x"),
        patient(extension="x"),
        patient(name=[{"given": "Ada"}]),
        {"resourceType": "Appointment", "status": "booked", "participant": "everyone"},
    ]
    return [
        Attempt(
            "wrong-type",
            "POST",
            f"/{_type_of(b)}",
            **body(b),
        )
        for b in bodies
    ]


def _type_of(value: object) -> str:
    kind = value.get("resourceType") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else "Patient"


def truncated_json() -> list[Attempt]:
    texts = [
        b'{"resourceType":"Patient"',
        b'{"resourceType":',
        b"{",
        b"[",
        b"",
        b'{"resourceType":"Patient","name":[{"family":"x"}',
        b"\xff\xfe",
        b'{"resourceType":"Patient"}}',
    ]
    return [Attempt("truncated", "POST", "/Patient", body=t, headers={"Content-Type": JSON}) for t in texts]


def wrong_content_types() -> list[Attempt]:
    valid = dumps(patient())
    types = [
        "text/plain",
        "application/xml",
        "application/fhir+xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "image/png",
    ]
    attempts = [Attempt("content-type", "POST", "/Patient", body=valid, headers={"Content-Type": t}) for t in types]
    attempts.append(Attempt("content-type", "GET", "/Patient?_format=xml"))
    attempts.append(Attempt("content-type", "GET", "/Patient/p1", headers={"Accept": "application/fhir+xml"}))
    return attempts


def oversize() -> list[Attempt]:
    huge_name = patient(name=[{"family": "x" * (MAX_BYTES + 10)}])
    return [
        Attempt("oversize", "POST", "/Patient", **body(huge_name)),
        Attempt("oversize", "PUT", "/Patient/p1", **body({**huge_name, "id": "p1"})),
        Attempt("oversize", "POST", "", **body(transaction(post_entry(huge_name)))),
        Attempt(
            "oversize",
            "POST",
            "/Patient",
            body=b"x",
            headers={"Content-Type": JSON, "Content-Length": str(10 * MAX_BYTES)},
        ),
    ]


def bad_patches() -> list[Attempt]:
    patches: list[object] = [
        {"op": "replace", "path": "/active", "value": False},
        [{"op": "frobnicate", "path": "/active"}],
        [{"op": "replace", "path": "/nothing/here", "value": 1}],
        [{"op": "test", "path": "/id", "value": "p2"}],
        [{"op": "replace", "path": "/id", "value": "p2"}],
        [{"op": "replace", "path": "/resourceType", "value": "Group"}],
        [{"op": "add", "path": "/name", "value": [{"family": "x\x00"}]}],
        [{"op": "add", "path": "/birthDate", "value": "not a date"}],
        [{"op": "remove", "path": "/status"}],
        [{"op": "move", "from": "/nowhere", "path": "/x"}],
        "not a patch",
        [{"op": "replace", "path": "/active", "value": "yes"}],
    ]
    ct = "application/json-patch+json"
    attempts = [
        Attempt("bad-patch", "PATCH", "/Appointment/appt-p1" if i == 8 else "/Patient/p1", **body(p, ct))
        for i, p in enumerate(patches)
    ]
    attempts.append(Attempt("bad-patch", "PATCH", "/Patient/p1", body=b"[{", headers={"Content-Type": ct}))
    attempts.append(Attempt("bad-patch", "PATCH", "/Patient/nobody", **body([{"op": "remove", "path": "/a"}], ct)))
    attempts.append(Attempt("bad-patch", "PATCH", "/Patient?family=nobody", **body([], ct)))
    return attempts


def bad_bundles() -> list[Attempt]:
    dup = "urn:uuid:9b3c2c5e-0000-4000-8000-000000000001"
    bundles: list[object] = [
        {"resourceType": "Bundle"},
        {"resourceType": "Bundle", "type": "document", "entry": []},
        {"resourceType": "Bundle", "type": "transaction", "entry": {"not": "a list"}},
        transaction({"resource": patient()}),
        transaction({"resource": patient(), "request": {"method": "FOO", "url": "Patient"}}),
        transaction({"resource": patient(), "request": {"method": "POST"}}),
        transaction({"resource": patient(), "request": {"method": "POST", "url": "https://elsewhere.example/Patient"}}),
        transaction({"resource": patient(), "request": {"method": "POST", "url": "Patient/p9"}}),
        transaction({"resource": patient(), "request": {"method": "PUT", "url": "Patient"}}),
        transaction({"request": {"method": "PATCH", "url": "Patient/p1"}, "resource": patient()}),
        transaction(post_entry(patient(), dup), post_entry(patient(), dup)),
        transaction(
            post_entry(patient(generalPractitioner=[{"reference": "urn:uuid:00000000-0000-4000-8000-00000000dead"}]))
        ),
        transaction(post_entry(patient()), post_entry(patient(name=[{"family": "x\x00"}]))),
        transaction(
            post_entry(patient()),
            {"resource": patient(id="p1"), "request": {"method": "PUT", "url": "Patient/p1", "ifMatch": 'W/"99"'}},
        ),
        transaction(*[post_entry(patient()) for _ in range(MAX_ENTRIES + 1)]),
        transaction(post_entry(patient()), {"request": {"method": "GET", "url": "Patient?_offset=" + "9" * 30}}),
        transaction(
            post_entry(patient()),
            {
                "request": {"method": "PATCH", "url": "Patient/p1"},
                "resource": binary_patch([{"op": "test", "path": "/id", "value": "x"}]),
            },
        ),
        transaction(
            post_entry(patient()),
            {"request": {"method": "POST", "url": "Patient", "ifNoneExist": "family=x\x00"}, "resource": patient()},
        ),
        {"resourceType": "Patient"},
        [transaction()],
    ]
    return [Attempt("bad-bundle", "POST", "", **body(b)) for b in bundles]


def bad_headers() -> list[Attempt]:
    return [
        Attempt("auth", "GET", "/Patient/p1", bearer=None),
        Attempt("auth", "GET", "/Patient/p1", bearer="not.a.jwt"),
        Attempt("auth", "GET", "/Patient/p1", bearer="a" * 20_000),
        Attempt("auth", "GET", "/Patient/p1", bearer=None, headers={"Authorization": "Bearer \x00"}),
        Attempt("auth", "GET", "/Patient/p1", bearer=None, headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        Attempt("auth", "GET", "/Patient/p1", bearer=token("user/*.rs", token_use="refresh")),
        Attempt("auth", "POST", "/Patient", bearer=token("user/*.rs"), **body(patient())),
        Attempt(
            "auth",
            "GET",
            "/Patient/p1",
            bearer=token("user/*.rs", fhirUser="https://evil.example/fhir/Practitioner/dr-1"),
        ),
        Attempt(
            "if-match", "PUT", "/Patient/p1", **_with(body(patient(id="p1")), {"If-Match": 'W/"' + "9" * 40 + '"'})
        ),
        Attempt("if-match", "PUT", "/Patient/p1", **_with(body(patient(id="p1")), {"If-Match": "garbage"})),
        Attempt("if-match", "DELETE", "/Patient?family=nobody", headers={"If-Match": 'W/"1"'}, refuse=False),
        Attempt("if-none-exist", "POST", "/Patient", **_with(body(patient()), {"If-None-Exist": "_count=" + "9" * 40})),
        Attempt("if-none-exist", "POST", "/Patient", **_with(body(patient()), {"If-None-Exist": "nonsense-param=1"})),
        Attempt("prefer", "GET", "/Patient?nonsense=1", headers={"Prefer": "handling=strict"}),
    ]


def every_attempt() -> list[Attempt]:
    return [
        *control_characters(),
        *huge_numbers(),
        *deep_nesting(),
        *wrong_json_types(),
        *truncated_json(),
        *wrong_content_types(),
        *oversize(),
        *bad_patches(),
        *bad_bundles(),
        *bad_headers(),
    ]


def race_bursts() -> list[list[Attempt]]:
    """Bursts sent at once: stale If-Match updates, conditional creates that find p1, conditional deletes that
    match nothing, and invalid creates."""
    stale = {"If-Match": 'W/"99"'}
    return [
        [Attempt("race/stale-if-match", "PUT", "/Patient/p1", **_with(body(patient(id="p1")), stale))] * 10,
        [
            Attempt(
                "race/if-none-exist-found",
                "POST",
                "/Patient",
                refuse=False,
                **_with(body(patient()), {"If-None-Exist": "_id=p1"}),
            )
        ]
        * 10,
        [Attempt("race/delete-nothing", "DELETE", "/Patient?identifier=urn:x%7Cnobody", refuse=False)] * 10,
        [Attempt("race/invalid-create", "POST", "/Patient", **body(patient(name=[{"family": "x\x00"}])))] * 10,
    ]


@pytest.fixture
async def hardened(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[FastAPI]:
    await seed(clean_engine, *clinic())
    async with secured_app(
        clean_engine, database_url, max_request_bytes=MAX_BYTES, max_bundle_entries=MAX_ENTRIES
    ) as app:
        yield app


async def versions(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(resource_history))).scalar_one()


async def send(app: FastAPI, attempt: Attempt) -> httpx.Response:
    headers = {"Accept": JSON, **attempt.headers}
    bearer = token("user/*.cruds") if attempt.bearer == STAFF else attempt.bearer
    if bearer:
        headers.setdefault("Authorization", f"Bearer {bearer}")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=FHIR_BASE) as client:
        request = client.build_request(attempt.method, FHIR_BASE + attempt.url, content=attempt.body, headers=headers)
        if "Content-Length" in attempt.headers:  # a declared length that is not the real one
            request.headers["Content-Length"] = attempt.headers["Content-Length"]
        return await client.send(request)


def wrong(attempt: Attempt, answer: httpx.Response) -> str | None:
    """What is wrong with the answer to ``attempt``, or None."""
    status = answer.status_code
    if status >= 500:
        return f"{status}: {answer.text[:200]}"
    if attempt.refuse and status < 400:
        return f"accepted with {status}: {answer.text[:200]}"
    if status >= 400:
        try:
            outcome = answer.json()
        except ValueError:
            return f"{status} without a JSON body"
        if outcome.get("resourceType") != "OperationOutcome" or not outcome.get("issue"):
            return f"{status} without an OperationOutcome"
    return None


async def test_careless_and_malicious_clients_get_clear_refusals_and_change_nothing(
    hardened: FastAPI, clean_engine: AsyncEngine, database_url: str, capsys: pytest.CaptureFixture
) -> None:
    baseline = [await versions(clean_engine)]  # moved on after a wrongly stored version, so each is told once
    statuses: Counter[int] = Counter()
    groups: Counter[str] = Counter()
    problems: list[str] = []

    def judge(attempt: Attempt, answer: httpx.Response, stored: int) -> None:
        statuses[answer.status_code] += 1
        groups[attempt.group.split("/")[0]] += 1
        problem = wrong(attempt, answer)
        if stored != baseline[0]:
            problem = f"{stored - baseline[0]} version(s) stored; answered {answer.status_code}"
            baseline[0] = stored
        if problem:
            problems.append(f"{attempt.group} {attempt.method} {attempt.url[:80]!r}: {problem}")

    for attempt in every_attempt():
        answer = await send(hardened, attempt)
        judge(attempt, answer, await versions(clean_engine))
    for burst in race_bursts():
        answers = await asyncio.gather(*(send(hardened, attempt) for attempt in burst))
        stored = await versions(clean_engine)
        for attempt, answer in zip(burst, answers, strict=True):
            judge(attempt, answer, stored)

    attempts = sum(statuses.values())
    backend = database_url.split(":", 1)[0].split("+", 1)[0]
    with capsys.disabled():
        print(
            f"\ncareless clients on {backend}: {attempts} attempts, {len(problems)} wrong answers, "
            f"{sum(n for s, n in statuses.items() if s >= 500)} 5xx; by status "
            + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
            + "; by kind "
            + ", ".join(f"{g}: {n}" for g, n in sorted(groups.items()))
        )
    assert attempts >= 120
    assert problems == [], "\n".join(problems)
