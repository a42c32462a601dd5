"""Problems: inventory, baseline and exception rows and executions that did not make it into the
figures, and why."""

from dataclasses import dataclass
from enum import StrEnum

# Problem kinds, as shown in the reports' Problems section.
INVALID_ROW = "invalid row"
DUPLICATE_ROW = "duplicate row"
NOT_FOUND = "not found"
FORBIDDEN = "forbidden"
FETCH_FAILED = "fetch failed"
NOT_JSON = "not JSON"
BAD_PAYLOAD = "bad payload"
NO_EXECUTIONS = "no executions"
INVALID_BASELINE_ROW = "invalid baseline row"
INVALID_EXCEPTION_ROW = "invalid exception row"


class FailureKind(StrEnum):
    """Why fetching (or reading back) an answer failed: what decisions look at, never the text.

    The reason shown to a user can be reworded freely; the exit code, the retry decision and
    the report's problem kind depend on this alone.
    """

    UNREACHABLE = "unreachable"  # no connection: refused, reset, closed, host not found
    TLS = "tls"  # the TLS handshake failed (untrusted certificate, ...)
    TIMEOUT = "timeout"  # no bytes within --timeout, or the whole request past its deadline
    HTTP_STATUS = "http status"  # a server error status that retrying did not cure
    RATE_LIMITED = "rate limited"  # 429 until the retries ran out
    NOT_JSON = "not JSON"  # a 200 whose body is not JSON
    TOO_LARGE = "too large"  # a body over the size cap
    NOT_FOUND = "not found"  # 404
    FORBIDDEN = "forbidden"  # 403
    REJECTED = "rejected"  # 400: the API refused the request itself
    REDIRECT = "redirect"  # 3xx: not followed
    UNEXPECTED_JSON = "unexpected JSON"  # JSON, but not the shape the API promises
    CHANGED_EVIDENCE = "changed evidence"  # a saved body no longer matches its manifest hash
    MISSING_EVIDENCE = "missing evidence"  # not in the evidence archive, or its file is gone

    @property
    def no_answer(self) -> bool:
        """Whether the API said nothing at all: how every request to a dead API ends."""
        return self in (FailureKind.UNREACHABLE, FailureKind.TLS, FailureKind.TIMEOUT)

    @property
    def problem_kind(self) -> str:
        """The problem kind the reports show for this failure."""
        return _PROBLEM_KINDS.get(self, FETCH_FAILED)


_PROBLEM_KINDS = {
    FailureKind.NOT_FOUND: NOT_FOUND,
    FailureKind.MISSING_EVIDENCE: NOT_FOUND,
    FailureKind.FORBIDDEN: FORBIDDEN,
    FailureKind.NOT_JSON: NOT_JSON,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One inventory row or execution that is not (fully) in the figures.

    ``line`` is the inventory file's line number when the problem comes from a row.
    A problem of kind ``bad payload`` is a warning: the execution is still reported with
    what could be read, and the problem lists what was wrong. ``cause`` says why a fetch
    failed (None for problems that are not fetch failures).
    """

    kind: str
    reason: str
    line: int | None = None
    account_alias: str | None = None
    server_id: str | None = None
    execution_id: str | None = None
    cause: FailureKind | None = None
