"""Problems: inventory rows and executions that did not make it into the figures, and why."""

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
OUTSIDE_PERIOD = "outside the period"

# Every kind, most serious first, with what it means for the figures: the order in which every
# report groups its problems. Data the API would not give comes first (the figures lack it),
# then inventory rows that could not be used, executions reported from a faulty answer, and
# last what is only noted. A kind not listed here sorts after the listed errors.
PROBLEM_KINDS: dict[str, str] = {
    NOT_FOUND: "the API has no such execution or server: nothing of it is in the figures",
    FORBIDDEN: "the login may not read it: nothing of it is in the figures",
    FETCH_FAILED: "no usable answer after every retry: nothing of it is in the figures",
    NOT_JSON: "the answer was not JSON: nothing of it is in the figures",
    INVALID_ROW: "an inventory row that could not be used: nothing was fetched for it",
    NO_EXECUTIONS: "a server listed without an execution ID has none to report",
    BAD_PAYLOAD: "reported with what could be read; the answer had faults",
    OUTSIDE_PERIOD: "a listed execution that started outside the period: left out of the figures",
    DUPLICATE_ROW: "a repeated inventory row or execution: counted once",
}
_UNLISTED_RANK = list(PROBLEM_KINDS).index(BAD_PAYLOAD) - 0.5


def kind_rank(kind: str) -> float:
    """Where problems of ``kind`` come in the reports: lower is more serious.

    >>> kind_rank(NOT_FOUND) < kind_rank(INVALID_ROW) < kind_rank(BAD_PAYLOAD)
    True
    """
    try:
        return float(list(PROBLEM_KINDS).index(kind))
    except ValueError:
        return _UNLISTED_RANK


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
