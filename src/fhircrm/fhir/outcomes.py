"""OperationOutcome and FHIR JSON responses."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import orjson
from starlette.responses import Response

from fhircrm.errors import FhircrmError, Issue

FHIR_JSON = "application/fhir+json"


def operation_outcome(issues: list[Issue]) -> dict:
    out = []
    for issue in issues:
        item: dict = {"severity": issue.severity, "code": issue.code, "diagnostics": issue.diagnostics}
        if issue.expression:
            item["expression"] = list(issue.expression)
        out.append(item)
    return {"resourceType": "OperationOutcome", "issue": out}


def information(message: str) -> dict:
    return operation_outcome([Issue(message, code="informational", severity="information")])


def error_outcome(error: FhircrmError) -> dict:
    return operation_outcome(error.issues)


class FhirResponse(Response):
    media_type = FHIR_JSON

    def __init__(
        self, content: object = None, status_code: int = 200, headers: dict | None = None, *, pretty: bool = False
    ):
        self.pretty = pretty
        super().__init__(content, status_code, headers)

    def render(self, content: object) -> bytes:
        if content is None:
            return b""
        option = orjson.OPT_INDENT_2 if self.pretty else 0
        return orjson.dumps(content, option=option)


def error_response(error: FhircrmError) -> FhirResponse:
    """The OperationOutcome, with any headers the error carries (``WWW-Authenticate``, ``Retry-After``)."""
    return FhirResponse(error_outcome(error), error.status, getattr(error, "headers", None))


def http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
