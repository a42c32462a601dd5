"""Plain values passed between stages: what to fetch, what was fetched, and the period."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reporter.errors import UsageError


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
        return cls(int(match.group(1)), int(match.group(2)))

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
