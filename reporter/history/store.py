"""The history store: a SQLite file of every recorded period (SPEC 5a).

Opened and checked before a run fetches anything (not SQLite, not reporter's, written by a
newer reporter, locked, not writable: :class:`~reporter.errors.HistoryError`, one line;
see :mod:`reporter.history.database`), brought to the current schema by forward migrations,
and written in one transaction after the reports are written. The file is in WAL mode so that
readers (a BI tool, ``reporter history``) never block a run, and every connection waits for
a busy file instead of failing at once.

A file that does not exist yet is created only when the first period is recorded: a run that
stops earlier leaves nothing behind.
"""

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reporter.errors import HistoryError
from reporter.history.database import connect, sqlite_errors
from reporter.history.rows import PeriodRecord, accounts_key

BUSY_TIMEOUT = 10.0  # seconds a run waits for another writer before giving up
TREND_PERIODS = 12  # periods the trend shows, this one included
RUN_COLUMNS = (
    "label",
    "accounts",
    "period",
    "generated_at",
    "recorded_at",
    "title",
    "data_source",
    "input_name",
    "input_sha256",
    "manifest_sha256",
    "tool_version",
    "servers",
    "compliant",
    "compliance_pct",
    "executions",
    "patches_attempted",
    "problems",
)


@dataclass(frozen=True)
class EarlierPeriods:
    """What the store holds before one period, for the same accounts."""

    labels: list[str] = field(default_factory=list)  # every earlier label, oldest first
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the latest TREND_PERIODS - 1 of them: label, period, generated_at, servers, compliant,
    # compliance_pct, then one column per status recorded (servers)
    previous_servers: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the last one's servers: account_alias, server_id, status, reason
    failing: frozenset[tuple[str, str, str, str]] = frozenset()
    # (label, ALIAS, SERVER, patch key) whose latest attempt failed in that period


@dataclass(frozen=True)
class RecordedPeriod:
    """One recorded period's headline figures, as ``reporter history`` lists them."""

    label: str
    accounts: str
    generated_at: str
    servers: int
    compliant: int
    compliance_pct: float
    executions: int
    patches_attempted: int
    problems: int
    statuses: dict[str, int]


class HistoryStore:
    """A history database file. Use :meth:`open`; close it with :meth:`close`."""

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection | None,
        busy_timeout: float,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self._connection = connection
        self._busy_timeout = busy_timeout
        self._read_only = read_only

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        create: bool = True,
        busy_timeout: float | None = None,
        read_only: bool = False,
    ) -> "HistoryStore":
        """Open ``path`` and check that this run can record into it.

        Args:
            path: the database file.
            create: allow a file that does not exist yet (created when first recorded into).
            busy_timeout: seconds to wait for another writer (default :data:`BUSY_TIMEOUT`).
            read_only: only read it (``reporter history``): no write lock, no migration.

        Raises:
            HistoryError: the file cannot be used, in one line saying why.
        """
        path = Path(path)
        timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        if path.exists():
            if not path.is_file():
                raise HistoryError(f"history database {path} is not a file")
            store = cls(path, None, timeout, read_only)
            store._connection = store._connect()
            return store
        if not create or read_only:
            raise HistoryError(f"no history database at {path}")
        folder = path.parent
        if not folder.is_dir():
            raise HistoryError(f"cannot create the history database {path}: no folder {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise HistoryError(f"cannot create the history database {path}: {folder} is read-only")
        return cls(path, None, timeout)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, self._busy_timeout, self._read_only)

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return sqlite_errors(self.path, self._busy_timeout, doing)

    def close(self) -> None:
        """Close the file (nothing is written by closing)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------

    def record(self, periods: Sequence[PeriodRecord]) -> None:
        """Record ``periods`` in one transaction, oldest first; a period recorded before (same
        label and accounts) is replaced.

        Each patch's last success is carried forward from earlier periods of the same
        accounts when this period has none.

        Raises:
            HistoryError: nothing was recorded.
        """
        if self._read_only:
            raise HistoryError(f"history database {self.path} was opened to be read only")
        if self._connection is None:
            self._connection = self._connect()
        connection = self._connection
        with self._errors("record the period"):
            connection.execute("BEGIN IMMEDIATE")
            try:
                for period in sorted(periods, key=lambda p: p.label):
                    self._insert(connection, period)
                connection.execute("COMMIT")
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")

    def _insert(self, connection: sqlite3.Connection, period: PeriodRecord) -> None:
        connection.execute(
            "DELETE FROM runs WHERE label = ? AND accounts = ?", (period.label, period.accounts)
        )
        names = ", ".join(RUN_COLUMNS)
        marks = ", ".join("?" for _ in RUN_COLUMNS)
        cursor = connection.execute(
            f"INSERT INTO runs ({names}) VALUES ({marks})",  # noqa: S608 - fixed column names
            [period.run[name] for name in RUN_COLUMNS],
        )
        run_id = cursor.lastrowid
        connection.executemany(
            "INSERT INTO run_statuses (run_id, status, servers) VALUES (?, ?, ?)",
            [(run_id, *row) for row in period.statuses],
        )
        connection.executemany(
            "INSERT INTO run_attempts (run_id, outcome, attempts) VALUES (?, ?, ?)",
            [(run_id, *row) for row in period.attempts],
        )
        connection.executemany(
            "INSERT INTO server_status (run_id, account_alias, server_id, status, reason, "
            "attributes) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, *row) for row in period.servers],
        )
        earlier = self._earlier_successes(connection, period)
        connection.executemany(
            "INSERT INTO patch_ledger (run_id, account_alias, server_id, patch_key, outcome, "
            "attempted_at, last_success_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    alias,
                    server,
                    key,
                    outcome,
                    when,
                    max(
                        filter(None, (success, earlier.get((alias, server.upper(), key)))),
                        default=None,
                    ),
                )
                for alias, server, key, outcome, when, success in period.patches
            ],
        )

    def _earlier_successes(
        self, connection: sqlite3.Connection, period: PeriodRecord
    ) -> dict[tuple[str, str, str], str]:
        """The last success recorded before ``period`` for each of its (alias, SERVER, key)."""
        connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS current_patches "
            "(account_alias TEXT, server_id TEXT COLLATE NOCASE, patch_key TEXT)"
        )
        connection.execute("DELETE FROM current_patches")
        connection.executemany(
            "INSERT INTO current_patches VALUES (?, ?, ?)",
            [(alias, server, key) for alias, server, key, *_ in period.patches],
        )
        rows = connection.execute(
            "SELECT c.account_alias, upper(c.server_id), c.patch_key, max(p.last_success_at) "
            "FROM current_patches c JOIN patch_ledger p ON p.account_alias = c.account_alias "
            "AND p.server_id = c.server_id AND p.patch_key = c.patch_key "
            "JOIN runs r ON r.run_id = p.run_id "
            "WHERE r.accounts = ? AND r.label < ? AND p.last_success_at IS NOT NULL "
            "GROUP BY c.account_alias, upper(c.server_id), c.patch_key",
            (period.accounts, period.label),
        )
        return {(alias, server, key): when for alias, server, key, when in rows}

    # --- reading -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _snapshot(self, doing: str) -> Iterator[sqlite3.Connection | None]:
        """One read transaction (a consistent view), or None when the file does not exist yet."""
        connection = self._connection
        if connection is None:
            yield None
            return
        with self._errors(doing):
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                if connection.in_transaction:
                    connection.execute("COMMIT")

    def earlier(self, accounts: Sequence[str], label: str) -> EarlierPeriods:
        """What is recorded before ``label`` for ``accounts`` (labels sort in time order)."""
        key = accounts_key(accounts)
        with self._snapshot("read earlier periods") as connection:
            if connection is None:
                return EarlierPeriods()
            runs = pd.read_sql_query(
                "SELECT run_id, label, period, generated_at, servers, compliant, compliance_pct "
                "FROM runs WHERE accounts = ? AND label < ? ORDER BY label",
                connection,
                params=(key, label),
            )
            if runs.empty:
                return EarlierPeriods()
            recent = runs.tail(TREND_PERIODS - 1).reset_index(drop=True)
            ids = ", ".join(str(int(run_id)) for run_id in recent["run_id"])
            statuses = pd.read_sql_query(
                f"SELECT run_id, status, servers FROM run_statuses WHERE run_id IN ({ids})",  # noqa: S608
                connection,
            )
            previous = int(runs["run_id"].iloc[-1])
            servers = pd.read_sql_query(
                "SELECT account_alias, server_id, status, reason FROM server_status "
                "WHERE run_id = ?",
                connection,
                params=(previous,),
            )
            failing = connection.execute(
                "SELECT r.label, p.account_alias, upper(p.server_id), p.patch_key "
                "FROM patch_ledger p JOIN runs r ON r.run_id = p.run_id "
                "WHERE r.accounts = ? AND r.label < ? AND p.outcome = 'failed'",
                (key, label),
            ).fetchall()
        counts = statuses.pivot_table(
            index="run_id", columns="status", values="servers", aggfunc="sum"
        )
        recent = recent.join(counts, on="run_id").drop(columns="run_id")
        return EarlierPeriods(
            labels=runs["label"].tolist(),
            runs=recent,
            previous_servers=servers,
            failing=frozenset(tuple(row) for row in failing),
        )

    def periods(self) -> list[RecordedPeriod]:
        """Every recorded period, by accounts and then label."""
        with self._snapshot("list the periods") as connection:
            if connection is None:
                return []
            runs = connection.execute(
                "SELECT run_id, label, accounts, generated_at, servers, compliant, "
                "compliance_pct, executions, patches_attempted, problems FROM runs "
                "ORDER BY accounts, label"
            ).fetchall()
            statuses: dict[int, dict[str, int]] = {}
            for run_id, status, servers in connection.execute(
                "SELECT run_id, status, servers FROM run_statuses ORDER BY rowid"
            ):
                statuses.setdefault(run_id, {})[status] = servers
        return [
            RecordedPeriod(
                label=label,
                accounts=accounts,
                generated_at=generated_at,
                servers=servers,
                compliant=compliant,
                compliance_pct=pct,
                executions=executions,
                patches_attempted=attempted,
                problems=problems,
                statuses=statuses.get(run_id, {}),
            )
            for (
                run_id,
                label,
                accounts,
                generated_at,
                servers,
                compliant,
                pct,
                executions,
                attempted,
                problems,
            ) in runs
        ]
