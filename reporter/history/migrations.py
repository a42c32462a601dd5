"""The history database's tables, as forward migrations from an empty file.

``MIGRATIONS[n]`` takes a database at version ``n - 1`` to version ``n``; a database is
brought from whatever version it has to :data:`LATEST`, one step at a time, in the same
transaction that checks it. A migration is never changed once released: the next change is
a new one. The tables are a public interface (README, "History and trends"): users point BI
tools at them, so columns are added, never renamed or dropped.

Times are ISO 8601 UTC text (``2026-10-14T03:12:00Z``); statuses and outcomes are stored as
the reports write them, as text, so that new ones need no migration.
"""

APPLICATION_ID = 0x52505452  # "RPTR" in SQLite's header: this file was written by reporter

MIGRATION_1 = (
    """
    CREATE TABLE schema_version (
        version INTEGER NOT NULL
    )
    """,
    "INSERT INTO schema_version (version) VALUES (0)",
    """
    CREATE TABLE runs (
        run_id            INTEGER PRIMARY KEY,
        label             TEXT NOT NULL,
        accounts          TEXT NOT NULL,
        period            TEXT,
        generated_at      TEXT NOT NULL,
        recorded_at       TEXT NOT NULL,
        title             TEXT NOT NULL,
        data_source       TEXT NOT NULL,
        input_name        TEXT,
        input_sha256      TEXT,
        manifest_sha256   TEXT,
        tool_version      TEXT NOT NULL,
        servers           INTEGER NOT NULL,
        compliant         INTEGER NOT NULL,
        compliance_pct    REAL NOT NULL,
        executions        INTEGER NOT NULL,
        patches_attempted INTEGER NOT NULL,
        problems          INTEGER NOT NULL,
        UNIQUE (label, accounts)
    )
    """,
    """
    CREATE TABLE run_statuses (
        run_id  INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        status  TEXT NOT NULL,
        servers INTEGER NOT NULL,
        PRIMARY KEY (run_id, status)
    )
    """,
    """
    CREATE TABLE run_attempts (
        run_id   INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        outcome  TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY (run_id, outcome)
    )
    """,
    """
    CREATE TABLE server_status (
        run_id        INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        account_alias TEXT NOT NULL,
        server_id     TEXT NOT NULL COLLATE NOCASE,
        status        TEXT NOT NULL,
        reason        TEXT NOT NULL,
        attributes    TEXT NOT NULL,
        PRIMARY KEY (run_id, account_alias, server_id)
    )
    """,
    """
    CREATE TABLE patch_ledger (
        run_id          INTEGER NOT NULL,
        account_alias   TEXT NOT NULL,
        server_id       TEXT NOT NULL COLLATE NOCASE,
        patch_key       TEXT NOT NULL,
        outcome         TEXT NOT NULL,
        attempted_at    TEXT,
        last_success_at TEXT,
        PRIMARY KEY (run_id, account_alias, server_id, patch_key),
        FOREIGN KEY (run_id, account_alias, server_id)
            REFERENCES server_status (run_id, account_alias, server_id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX patch_ledger_by_patch ON patch_ledger (account_alias, server_id, patch_key)",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: MIGRATION_1}
LATEST = max(MIGRATIONS)
