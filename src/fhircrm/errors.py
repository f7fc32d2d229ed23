"""The one error tree of fhircrm. Each error knows its HTTP status and FHIR issue code.

    FhircrmError
    ├── BadRequest            400  invalid        (malformed JSON, bad parameter, id mismatch)
    │   └── UnknownParameter  400  not-supported  (with Prefer: handling=strict)
    ├── Unauthorized          401  login
    ├── Forbidden             403  forbidden
    ├── NotFound              404  not-found      (unknown type, id or version)
    ├── MethodNotAllowed      405  not-supported
    ├── Gone                  410  deleted
    ├── Conflict              409  conflict       (duplicate id, version conflict without If-Match)
    ├── PreconditionFailed    412  conflict       (If-Match stale, conditional matches several)
    ├── PayloadTooLarge       413  too-costly
    ├── UnsupportedMediaType  415  not-supported
    ├── Unprocessable         422  invalid        (validation only)
    │   └── JourneyError      422  invalid        (a journey definition that cannot be used)
    ├── NotImplementedYet     501  not-supported
    ├── InternalError         500  exception      (a bug: details go to the log, never to the client)
    ├── Unavailable           503  transient      (database down or busy, a statement too slow)
    └── PageError             (its status) invalid  (a page refuses: shown with a title, fhircrm.ui.web)
        └── SignInRequired    401  login          (no app session, or it expired)

Under ``/fhir`` they render as OperationOutcome; in the UI as a page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: what went wrong and where (a FHIRPath expression)."""

    diagnostics: str
    code: str = "invalid"
    severity: str = "error"
    expression: tuple[str, ...] = ()


class FhircrmError(Exception):
    status: int = 500
    code: str = "exception"

    def __init__(self, diagnostics: str, *, expression: str | None = None, issues: list[Issue] | None = None):
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.issues = issues or [Issue(diagnostics, self.code, "error", (expression,) if expression else ())]


class BadRequest(FhircrmError):
    status, code = 400, "invalid"


class UnknownParameter(BadRequest):
    code = "not-supported"


class Unauthorized(FhircrmError):
    status, code = 401, "login"


class Forbidden(FhircrmError):
    status, code = 403, "forbidden"


class NotFound(FhircrmError):
    status, code = 404, "not-found"


class MethodNotAllowed(FhircrmError):
    status, code = 405, "not-supported"


class Conflict(FhircrmError):
    status, code = 409, "conflict"


class Gone(FhircrmError):
    status, code = 410, "deleted"


class PreconditionFailed(FhircrmError):
    status, code = 412, "conflict"


class PayloadTooLarge(FhircrmError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhircrmError):
    status, code = 415, "not-supported"


class Unprocessable(FhircrmError):
    status, code = 422, "invalid"


class JourneyError(Unprocessable):
    """A journey definition that cannot be used; the message says where."""


class NotImplementedYet(FhircrmError):
    status, code = 501, "not-supported"


class InternalError(FhircrmError):
    status, code = 500, "exception"


class Unavailable(FhircrmError):
    status, code = 503, "transient"


class PageError(FhircrmError):
    """A request a page of the app refuses, shown to the person as an HTML page with ``title`` and ``status``
    (``fhircrm.ui.web.PageRoute``), not as an OperationOutcome."""

    status, code = 400, "invalid"
    title = "Request refused"

    def __init__(self, message: str, *, status: int | None = None, title: str | None = None) -> None:
        self.status = status or self.status
        self.title = title or self.title
        super().__init__(message)


class SignInRequired(PageError):
    status, code = 401, "login"
    title = "Sign-in required"
