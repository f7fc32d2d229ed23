"""What can go wrong talking to the EHR, in two kinds: try again later, or do not try again."""

from __future__ import annotations

import json


class EhrError(Exception):
    """The EHR refused the call for a reason that retrying will not fix (400, 403, 422 ...)."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.detail = detail  # the EHR's own words (its OperationOutcome's diagnostics), for the operator


def outcome_text(body: str) -> str:
    """The diagnostics of an OperationOutcome answer, joined; the raw text when the body is not one."""
    try:
        outcome = json.loads(body)
    except ValueError:
        return body.strip()
    if not isinstance(outcome, dict):
        return body.strip()
    issues = outcome.get("issue") or []
    texts = [i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code", "") for i in issues]
    return "; ".join(t for t in texts if t) or body.strip()


class EhrUnavailable(EhrError):
    """The EHR is down, slow, rate limiting us, or the circuit is open: retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class EhrHttpStatus(Exception):
    """An HTTP error answer, raised inside the transport and interpreted by the retry loop."""

    def __init__(self, status: int, retry_after: float | None, detail: str = ""):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.detail = detail
