"""The exceptions CSV (SPEC 4a): approved departures from the standard, until a date.

One row per exception: ``server_id`` (or ``*``), ``patch`` (or ``*``), ``reason``,
``approved_by``, ``expires``. An exception is in force until the end of its ``expires`` day
(UTC), judged at the report's reference date (SPEC 9). Read by the inventory's rules: a bad row
is a problem with its line number, a file that cannot be used at all raises
:class:`~reporter.errors.ExceptionsError`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reporter.csvinput import (
    BadRecord,
    Columns,
    clipped,
    named_columns,
    read_csv,
    shown,
)
from reporter.errors import ExceptionsError
from reporter.inventory import COLUMN_NAMES as INVENTORY_COLUMNS
from reporter.problems import INVALID_EXCEPTION_ROW, Problem
from reporter.records import MAX_SERVER_ID, SERVER_ID_PATTERN
from reporter.standard.baseline import date_cell
from reporter.standard.patches import ANY, exception_patch

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "server_id": INVENTORY_COLUMNS["server_id"],
    "patch": ("patch", "kb", "package", "update", "patch_id"),
    "reason": ("reason", "justification", "rationale", "comment"),
    "approved_by": ("approved_by", "approver", "approved"),
    "expires": ("expires", "expiry", "expires_on", "expiration", "valid_until", "until"),
}
REQUIRED_COLUMNS = ("server_id", "patch", "reason", "approved_by", "expires")


@dataclass(frozen=True)
class ExceptionRow:
    """One approved exception."""

    line: int
    server_id: str  # as written, or "*"
    patch: str  # as written, or "*"
    reason: str
    approved_by: str
    expires: date

    @property
    def matched_patch(self) -> str:
        """The patch as it is matched (:func:`~reporter.standard.patches.exception_patch`)."""
        return exception_patch(self.patch)

    def in_force(self, reference: datetime) -> bool:
        """Whether it is in force at ``reference``: until the end of its ``expires`` day, UTC
        (so one that expires on a period's last day covers that period, judged at its end)."""
        end = datetime(self.expires.year, self.expires.month, self.expires.day, tzinfo=UTC)
        return reference <= end + timedelta(days=1)

    def covers_server(self, server_id: str) -> bool:
        """Whether it names ``server_id`` (compared case-insensitively, as CLC does) or ``*``."""
        return self.server_id == ANY or self.server_id.upper() == server_id.upper()

    @property
    def label(self) -> str:
        """How reasons and tables name it: line, approver and expiry."""
        return f"exception line {self.line}, approved by {self.approved_by}, until {self.expires}"


@dataclass(frozen=True)
class Exceptions:
    """A loaded exceptions file: the usable rows, the rows that are problems, the file's hash."""

    path: Path
    sha256: str
    rows: list[ExceptionRow]
    problems: list[Problem]
    data_rows: int


def _row(line: int, cells: list[str], columns: Columns) -> ExceptionRow | Problem:
    """One data row as an :class:`ExceptionRow`, or the :class:`Problem` that stops it."""
    reasons = []
    server = columns.cell(cells, "server_id")
    if not server:
        reasons.append("no server ID (write * for every server)")
    elif server != ANY and (len(server) > MAX_SERVER_ID or not SERVER_ID_PATTERN.fullmatch(server)):
        reasons.append(f"server ID {shown(server)} may only contain letters, digits and '-'")
    patch = columns.cell(cells, "patch")
    if not patch:
        reasons.append("no patch (write * for every patch)")
    for field, what in (("reason", "no reason"), ("approved_by", "no approver")):
        if not columns.cell(cells, field):
            reasons.append(what)
    expires = date_cell(columns, cells, "expires", "no expiry date", reasons)
    reasons += columns.shape_problems(cells)
    if reasons or expires is None:
        return Problem(
            INVALID_EXCEPTION_ROW, "; ".join(reasons), line=line, server_id=clipped(server)
        )
    return ExceptionRow(
        line=line,
        server_id=server,
        patch=" ".join(patch.split()),
        reason=columns.cell(cells, "reason"),
        approved_by=columns.cell(cells, "approved_by"),
        expires=expires,
    )


def load_exceptions(path: str | Path) -> Exceptions:
    """Read an exceptions CSV (SPEC 4a).

    Raises:
        ExceptionsError: the file is missing, unreadable, not UTF-8 CSV, empty, has no data
            rows, or lacks one of the five columns.
    """

    def layout(file: Path, header: list[str]) -> Columns:
        return named_columns(
            file, header, COLUMN_NAMES, REQUIRED_COLUMNS, "exceptions file", ExceptionsError
        )

    table = read_csv(path, "exceptions file", ExceptionsError, layout)
    rows: list[ExceptionRow] = []
    problems: list[Problem] = []
    for record in table.records:
        if isinstance(record, BadRecord):
            problems.append(Problem(INVALID_EXCEPTION_ROW, record.reason, line=record.line))
            continue
        row = _row(record.line, record.cells, table.layout)
        if isinstance(row, Problem):
            problems.append(row)
        else:
            rows.append(row)
    return Exceptions(table.path, table.sha256, rows, problems, table.data_rows)
