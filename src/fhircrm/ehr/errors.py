"""What can go wrong talking to the EHR, in two kinds: try again later, or do not try again."""

from __future__ import annotations


class EhrError(Exception):
    """The EHR refused the call for a reason that retrying will not fix (400, 403, 422 ...)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


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
