"""schemathesis fuzzes every operation of fhircrm's OpenAPI, in process: no 500s and no response schema violations.

The FHIR routes take any resource type and read search parameters from the raw query string; the schema the fuzzer
sees pins ``resource_type`` to a few real types (and one unknown) and declares common search parameters, so the
generated requests reach the store, the search compiler and the writers instead of bouncing off as unknown types.
"""

from __future__ import annotations

import collections
import copy
import warnings
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import checks
from schemathesis.python import asgi

from fhircrm.app import create_app
from fhircrm.config import Settings

MAX_EXAMPLES = 25  # per operation: about a minute for the whole API on SQLite
FUZZED_TYPES = ["Patient", "Communication", "Task", "Appointment", "Observation", "AuditEvent", "Bundle", "Nope"]
SEARCH_PARAMS = [
    "name",
    "phone",
    "_id",
    "_count",
    "_offset",
    "_sort",
    "_include",
    "_revinclude",
    "_summary",
    "_elements",
    "_lastUpdated",
    "date",
    "subject",
    "status",
    "_has:Task:for:status",
    "_since",
]


def fuzzing_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(openapi)
    for path, item in schema["paths"].items():
        for operation in item.values():
            parameters = operation.setdefault("parameters", [])
            for parameter in parameters:
                if parameter["name"] == "resource_type":
                    parameter["schema"] = {"type": "string", "enum": FUZZED_TYPES}
            if path.startswith("/fhir/{resource_type}") or path == "/fhir/_history":
                known = {p["name"] for p in parameters}
                parameters.extend(
                    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                    for name in SEARCH_PARAMS
                    if name not in known
                )
    return schema


@pytest.mark.slow
def test_fuzzing_the_openapi_finds_no_server_errors_and_no_schema_violations(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.sqlite3'}",
        base_url="http://testserver/fhir",
        embedded_worker=False,
        dev_auth_enabled=True,  # fuzz the development authorization server's endpoints too
        dev_auth_key_file=tmp_path / "dev-key.json",
    )
    app = create_app(settings)  # auth_mode none; its lifespan (migrations) runs in schemathesis' ASGI portal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI's duplicate operation id warnings (GET/POST of one route)
        openapi = app.openapi()
    schema = schemathesis.openapi.from_dict(fuzzing_schema(openapi))
    schema.app = app
    failures: dict[tuple[str, str], str] = {}
    calls: collections.Counter[str] = collections.Counter()
    try:
        for result in schema.get_all_operations():
            fuzz(result.ok(), failures, calls)()
    finally:
        asgi.shutdown_lifespans()
    print(f"schemathesis: {len(calls)} operations, {sum(calls.values())} requests")
    assert len(calls) > 40
    assert failures == {}


def fuzz(operation: Any, failures: dict[tuple[str, str], str], calls: collections.Counter[str]) -> Any:
    """A hypothesis test of one operation that records (rather than raises) what went wrong."""

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        calls[operation.label] += 1
        try:
            # an unhandled exception in the app propagates here (a 500); event streams never end: cut them short
            response = case.call(timeout=1 if operation.path.endswith("/stream") else 60)
            case.validate_response(response, checks=[checks.not_a_server_error, checks.response_schema_conformance])
        except Exception as exc:
            failures.setdefault((operation.label, type(exc).__name__), f"{exc}"[:800])

    return run
