"""Plain values passed between stages: IDs and statuses, what to fetch and what was fetched."""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reporter.errors import UsageError

# What an ID may look like: the inventory checks rows against these, and the client checks
# again before an ID becomes part of a request path.
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9]+")
SERVER_ID_PATTERN = re.compile(r"[A-Za-z0-9-]+")
EXECUTION_ID_PATTERN = re.compile(r"[A-Za-z]+[0-9]-[0-9]+")  # e.g. VA1-132457
MAX_ALIAS = 32
MAX_SERVER_ID = 64
MAX_EXECUTION_ID = 32
PERIOD_YEARS = (1970, 9998)  # months --period accepts


# Every spelling of an execution or patch status seen, and the canonical status it means.
STATUS_SYNONYMS = {
    **dict.fromkeys(["completed", "complete", "success", "succeeded", "done"], "completed"),
    **dict.fromkeys(["running", "in progress", "inprogress", "started", "executing"], "running"),
    **dict.fromkeys(["pending", "queued", "scheduled", "waiting"], "pending"),
    **dict.fromkeys(["failed", "failure", "error", "errored"], "failed"),
}
_STATUS_NOISE = re.compile(r"[_\-]")  # "in_progress", "In-Progress" and "in progress" alike


def normalise_status(raw: Any) -> str:
    """One status value as ``pending``, ``running``, ``completed``, ``failed`` or ``unknown``.

    >>> normalise_status(" In_Progress ")
    'running'
    """
    if not isinstance(raw, str):
        return "unknown"
    return STATUS_SYNONYMS.get(" ".join(_STATUS_NOISE.sub(" ", raw).lower().split()), "unknown")


def valid_id(pattern: re.Pattern, limit: int, value: object) -> bool:
    """Whether ``value`` is a string of at most ``limit`` characters that ``pattern`` matches."""
    return isinstance(value, str) and len(value) <= limit and bool(pattern.fullmatch(value))


@dataclass(frozen=True, slots=True)
class Target:
    """One execution to fetch, or (``execution_id`` None) a server whose executions to list."""

    account_alias: str
    server_id: str
    execution_id: str | None
    line: int | None = None  # the inventory line that asked for it


@dataclass(frozen=True, slots=True)
class FetchedExecution:
    """The detail of one execution, as the API sent it (decoded JSON, not yet normalised)."""

    account_alias: str
    server_id: str
    execution_id: str
    payload: Any
    url: str
    fetched_at: datetime
    line: int | None = None
    discovered: bool = False  # found through the server summary, not listed in the inventory


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month in UTC, as given to ``--period YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Period":
        """Parse ``YYYY-MM``; raise :class:`UsageError` otherwise.

        >>> Period.parse("2026-10").start
        datetime.datetime(2026, 10, 1, 0, 0, tzinfo=datetime.timezone.utc)
        """
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise UsageError(f"--period must be a month as YYYY-MM (e.g. 2026-10), not {text!r}")
        year = int(match.group(1))
        if not PERIOD_YEARS[0] <= year <= PERIOD_YEARS[1]:
            # The month must have an end that is a date too (9999-12 ends in year 10000).
            raise UsageError(
                f"--period {text.strip()} is out of range: use a month from "
                f"{PERIOD_YEARS[0]}-01 to {PERIOD_YEARS[1]}-12"
            )
        return cls(year, int(match.group(2)))

    @property
    def start(self) -> datetime:
        """First instant of the month, UTC."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """First instant of the next month, UTC (exclusive)."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)

    def contains(self, moment: datetime | None) -> bool:
        """Whether ``moment`` (timezone-aware) falls in the month; unknown times do not."""
        return moment is not None and self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Window:
    """A span of time in UTC, start included, end excluded: where the look-back for earlier
    installations searches (SPEC 9). It selects executions as a :class:`Period` does.

    >>> str(Window.months_before(datetime(2026, 11, 1, tzinfo=UTC), 12))
    '2025-11-01 to 2026-10-31'
    """

    start: datetime
    end: datetime

    @classmethod
    def months_before(cls, end: datetime, months: int) -> "Window":
        """The ``months`` calendar months before ``end`` (same day and time of the month,
        clamped to the month's last day)."""
        total = end.year * 12 + end.month - 1 - months
        year, month = divmod(total, 12)
        month += 1
        last = calendar.monthrange(year, month)[1]
        return cls(end.replace(year=year, month=month, day=min(end.day, last)), end)

    def contains(self, moment: datetime | None) -> bool:
        """Whether ``moment`` (timezone-aware) falls in the window; unknown times do not."""
        return moment is not None and self.start <= moment < self.end

    def __str__(self) -> str:
        last = self.end - timedelta(microseconds=1)
        return f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d}"


# What a fetch selects a server's executions by: a month, or a look-back window.
Span = Period | Window
