"""Problems: inventory rows and executions that did not make it into the figures, and why."""

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Problem:
    """One inventory row or execution that is not (fully) in the figures.

    ``line`` is the inventory file's line number when the problem comes from a row.
    A problem of kind ``bad payload`` is a warning: the execution is still reported with
    what could be read, and the problem lists what was wrong.
    """

    kind: str
    reason: str
    line: int | None = None
    account_alias: str | None = None
    server_id: str | None = None
    execution_id: str | None = None
