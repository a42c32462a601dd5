"""The history file itself: connected to, checked and migrated, its errors made one line.

A file is usable when it is SQLite, carries reporter's application ID (or is empty), and its
schema version is one this reporter knows; a writer then takes the write lock, waiting for
another writer at most ``busy_timeout`` seconds, and brings the schema up to date in the same
transaction (:mod:`reporter.history.migrations`).
"""

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from reporter.errors import HistoryError
from reporter.history.migrations import APPLICATION_ID, LATEST, MIGRATIONS


@contextlib.contextmanager
def sqlite_errors(path: Path, busy_timeout: float, doing: str) -> Iterator[None]:
    """Turn SQLite's errors while ``doing`` something with ``path`` into one clear line."""
    try:
        yield
    except sqlite3.Error as error:
        name = getattr(error, "sqlite_errorname", "")
        text = str(error)
        if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in text:
            message = (
                f"history database {path} is locked by another process (waited "
                f"{busy_timeout:g} s); try again when it is done"
            )
        elif name == "SQLITE_NOTADB" or "not a database" in text:
            message = f"{path} is not a SQLite database; give --history another file"
        elif name.startswith("SQLITE_READONLY") or "readonly" in text:
            message = f"history database {path} cannot be written: {text}"
        else:
            message = f"history database {path}: cannot {doing}: {text}"
        raise HistoryError(message) from error


def connect(path: Path, busy_timeout: float, read_only: bool = False) -> sqlite3.Connection:
    """A connection to ``path``, checked; unless ``read_only``, migrated to the current schema.

    The connection is in autocommit mode: callers open their own transactions.

    Raises:
        HistoryError: the file cannot be used, in one line saying why.
    """
    with sqlite_errors(path, busy_timeout, "open"):
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro" if read_only else path,
            timeout=busy_timeout,
            isolation_level=None,
            uri=read_only,
        )
    try:
        with sqlite_errors(path, busy_timeout, "open"):
            if not read_only:
                migrate(connection, path)
            elif schema_version(connection, path) < LATEST:
                raise HistoryError(
                    f"history database {path} has an older schema: a run or "
                    "'reporter history import' into it brings it up to date"
                )
    except BaseException:
        connection.close()
        raise
    return connection


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Check the file, take the write lock, and bring the schema to :data:`LATEST`."""
    connection.execute("PRAGMA foreign_keys = ON")
    schema_version(connection, path)
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode
    connection.execute("BEGIN IMMEDIATE")  # fails here if another process is writing
    try:
        # Read again under the lock: another run may have migrated the file meanwhile.
        version = schema_version(connection, path)
        for step in range(version + 1, LATEST + 1):
            for statement in MIGRATIONS[step]:
                connection.execute(statement)
            connection.execute("UPDATE schema_version SET version = ?", (step,))
        if version < LATEST:
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")


def schema_version(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version (0: empty).

    Raises:
        HistoryError: the file is not reporter's, or was written by a newer reporter.
    """
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    listed = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    tables = {row[0] for row in listed}
    if application_id != APPLICATION_ID and (application_id or tables):
        raise HistoryError(
            f"{path} is a SQLite database that reporter did not write; give --history another file"
        )
    if not tables:
        return 0
    row = (
        connection.execute("SELECT max(version) FROM schema_version").fetchone()
        if "schema_version" in tables
        else None
    )
    if row is None or not isinstance(row[0], int):
        raise HistoryError(f"history database {path} is damaged: it has no schema version")
    if row[0] > LATEST:
        raise HistoryError(
            f"history database {path} was written by a newer reporter (schema version "
            f"{row[0]}; this one knows up to {LATEST}): upgrade reporter"
        )
    return int(row[0])
