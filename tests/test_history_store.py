"""The history store (SPEC 5a) on real SQLite files: checks, migrations, one transaction."""

import dataclasses
import sqlite3
from datetime import UTC, datetime

import pytest
from factories import make_model

from reporter.errors import HistoryError
from reporter.history import HistoryStore, PeriodRecord, database, period_record, with_history
from reporter.history.migrations import APPLICATION_ID, LATEST
from reporter.model import validate_model

RECORDED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def period(
    label: str,
    servers: dict[str, str],
    patches: list[tuple[str, str, str, str | None, str | None]] = (),
    accounts: str = "OSD",
) -> PeriodRecord:
    """A hand-made period: ``servers`` maps server -> status; ``patches`` are (server, key,
    outcome, attempted at, success at)."""
    counts: dict[str, int] = {}
    for status in servers.values():
        counts[status] = counts.get(status, 0) + 1
    compliant = counts.get("Compliant", 0)
    return PeriodRecord(
        run={
            "label": label,
            "accounts": accounts,
            "period": label,
            "generated_at": f"{label}-28T06:00:00Z",
            "recorded_at": "2026-12-01T06:00:00Z",
            "title": "Patch compliance",
            "data_source": "https://api.example/rest",
            "input_name": "servers.csv",
            "input_sha256": "0" * 64,
            "manifest_sha256": "1" * 64,
            "tool_version": "1.0",
            "servers": len(servers),
            "compliant": compliant,
            "compliance_pct": 100.0 * compliant / len(servers),
            "executions": len(servers),
            "patches_attempted": len(patches),
            "problems": 0,
        },
        statuses=sorted(counts.items()),
        attempts=[("succeeded", len(patches))],
        servers=[(accounts, s, status, "", "{}") for s, status in servers.items()],
        patches=[(accounts, *patch) for patch in patches],
    )


def rows(path, query: str) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute(query).fetchall()


def test_a_new_file_is_created_when_the_first_period_is_recorded(tmp_path):
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        assert not path.exists()  # checked, but nothing written before a period is
        assert store.earlier(["OSD"], "2026-10").labels == []
        assert store.periods() == []
        store.record([period("2026-10", {"A": "Compliant", "B": "Non-compliant"})])
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert rows(path, "SELECT version FROM schema_version") == [(LATEST,)]
    assert rows(path, "SELECT label, servers, compliant FROM runs") == [("2026-10", 2, 1)]
    with HistoryStore.open(path, create=False) as store:
        [listed] = store.periods()
    assert listed.statuses == {"Compliant": 1, "Non-compliant": 1}


def test_recording_a_period_again_replaces_it(tmp_path):
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        store.record(
            [
                period(
                    "2026-10",
                    {"A": "Compliant", "B": "Compliant"},
                    [("A", "K1", "failed", None, None)],
                )
            ]
        )
        store.record([period("2026-10", {"A": "No data"})])
        store.record([period("2026-10", {"A": "No data"}, accounts="XYZ")])  # another key
    assert rows(path, "SELECT label, accounts, servers FROM runs ORDER BY accounts") == [
        ("2026-10", "OSD", 1),
        ("2026-10", "XYZ", 1),
    ]
    assert rows(path, "SELECT count(*) FROM server_status") == [(2,)]
    assert rows(path, "SELECT count(*) FROM patch_ledger") == [(0,)]
    assert rows(path, "SELECT count(*) FROM run_statuses") == [(2,)]


def test_the_last_success_is_carried_forward(tmp_path):
    path = tmp_path / "history.sqlite"
    ok = "2026-08-20T01:00:00Z"
    with HistoryStore.open(path) as store:
        store.record(
            [
                period("2026-08", {"A": "Compliant"}, [("A", "K1", "succeeded", ok, ok)]),
                period(
                    "2026-09",
                    {"a": "Non-compliant"},
                    [("a", "K1", "failed", "2026-09-20T01:00:00Z", None)],
                ),
                period("2026-10", {"A": "Non-compliant"}, [("A", "K2", "failed", None, None)]),
                period("2026-11", {"A": "Non-compliant"}, [("A", "K1", "failed", None, None)]),
            ]
        )
    ledger = rows(
        path,
        "SELECT r.label, p.server_id, p.patch_key, p.outcome, p.last_success_at "
        "FROM patch_ledger p JOIN runs r USING (run_id) ORDER BY r.label",
    )
    assert ledger == [
        ("2026-08", "A", "K1", "succeeded", ok),
        ("2026-09", "a", "K1", "failed", ok),  # server IDs compare case-insensitively
        ("2026-10", "A", "K2", "failed", None),
        ("2026-11", "A", "K1", "failed", ok),  # not attempted in 2026-10: still known
    ]


def test_a_failure_records_nothing(tmp_path):
    path = tmp_path / "history.sqlite"
    good = period("2026-09", {"A": "Compliant"})
    bad = period("2026-10", {"A": "Compliant"})
    bad.servers.append(bad.servers[0])  # the same server twice: the insert fails
    with HistoryStore.open(path) as store:
        store.record([period("2026-08", {"A": "Compliant"})])
        with pytest.raises(HistoryError, match="cannot record the period"):
            store.record([good, bad])
    assert rows(path, "SELECT label FROM runs") == [("2026-08",)]


def write_foreign(path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")


def write_newer(path) -> None:
    with HistoryStore.open(path) as store:
        store.record([period("2026-10", {"A": "Compliant"})])
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE schema_version SET version = ?", (LATEST + 1,))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("server_id\nVA1\n"), "is not a SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200), "not a SQLite database"),
        (write_foreign, "a SQLite database that reporter did not write"),
        (write_newer, f"written by a newer reporter \\(schema version {LATEST + 1}"),
        (lambda p: p.mkdir(), "is not a file"),
    ],
    ids=["text", "damaged", "foreign", "newer", "folder"],
)
def test_an_unusable_file_is_refused_and_left_as_it_is(tmp_path, make, message):
    path = tmp_path / "history.sqlite"
    make(path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(HistoryError, match=message):
        HistoryStore.open(path)
    assert (path.read_bytes() if path.is_file() else None) == before


def test_a_missing_folder_or_file_is_refused(tmp_path):
    with pytest.raises(HistoryError, match="no folder"):
        HistoryStore.open(tmp_path / "nowhere" / "history.sqlite")
    with pytest.raises(HistoryError, match="no history database at"):
        HistoryStore.open(tmp_path / "history.sqlite", create=False)


def test_a_file_another_process_is_writing_is_refused_after_a_wait(tmp_path):
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        store.record([period("2026-10", {"A": "Compliant"})])
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(HistoryError, match=r"is locked by another process \(waited 0.1 s\)"):
            HistoryStore.open(path, busy_timeout=0.1)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    HistoryStore.open(path, busy_timeout=0.1).close()  # free again: fine


def test_an_older_file_is_migrated_forward_and_keeps_its_periods(tmp_path, monkeypatch):
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        store.record([period("2026-10", {"A": "Compliant"})])
    step = ("ALTER TABLE runs ADD COLUMN reviewed_by TEXT",)
    monkeypatch.setattr(database, "MIGRATIONS", {**database.MIGRATIONS, LATEST + 1: step})
    monkeypatch.setattr(database, "LATEST", LATEST + 1)
    with HistoryStore.open(path) as store:
        assert [p.label for p in store.periods()] == ["2026-10"]
    assert rows(path, "SELECT version FROM schema_version") == [(LATEST + 1,)]
    assert rows(path, "SELECT label, reviewed_by FROM runs") == [("2026-10", None)]
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")  # an empty file is a database at version 0
    HistoryStore.open(empty).close()
    assert rows(empty, "SELECT version FROM schema_version") == [(LATEST + 1,)]


def test_earlier_periods_are_those_of_the_same_accounts_before_the_label(tmp_path):
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        store.record(
            [
                period(f"2026-{m:02d}", {"A": "Compliant", "B": "Non-compliant"})
                for m in range(1, 13)
            ]
            + [period("2026-05", {"A": "No data"}, accounts="XYZ")]
        )
        earlier = store.earlier(["osd"], "2026-12")
    assert earlier.labels == [f"2026-{m:02d}" for m in range(1, 12)]
    assert earlier.runs["label"].tolist() == earlier.labels  # at most 11 before this one
    assert earlier.runs["Non-compliant"].tolist() == [1] * 11
    assert sorted(earlier.previous_servers["server_id"]) == ["A", "B"]


def test_with_history_compares_a_model_with_the_recorded_periods(tmp_path):
    before, now = make_model(servers=14, period="2026-09"), make_model(period="2026-10")
    servers = before.servers.copy()
    flipped = {"VA1OSDWEB01": "Non-compliant", "VA1OSDWEB02": "Compliant"}
    for server, status in flipped.items():
        servers.loc[servers["server_id"] == server, "compliance"] = status
    before = dataclasses.replace(before, servers=servers)
    path = tmp_path / "history.sqlite"
    with HistoryStore.open(path) as store:
        first = with_history(before, store.earlier(before.meta.accounts, "2026-09"), "none yet")
        assert first.history.note == "none yet" and not first.history.compared
        assert first.trend["label"].tolist() == ["2026-09"] and first.changes.empty
        store.record([period_record(before, RECORDED)])
        second = with_history(now, store.earlier(now.meta.accounts, "2026-10"), "none yet")
    history = second.history
    assert history.previous_label == "2026-09"
    assert history.points == pytest.approx(now.kpis.compliant_pct - before.kpis.compliant_pct)
    assert second.trend["label"].tolist() == ["2026-09", "2026-10"]
    changes = second.changes[["server_id", "change", "previous_status", "status"]]
    assert changes.values.tolist() == [
        ["VA1OSDWEB02", "newly non-compliant", "Compliant", "Non-compliant"],
        ["VA1OSDWEB01", "fixed", "Non-compliant", "Compliant"],
        ["VA1OSDWEB13", "gone from the inventory", "Compliant", None],
        ["VA1OSDWEB14", "gone from the inventory", "Compliant", None],
    ]
    assert (history.fixed, history.newly_non_compliant, history.gone_servers) == (1, 1, 2)
    validate_model(second)


def test_a_listing_only_reads(tmp_path):
    path = tmp_path / "history.sqlite"
    with pytest.raises(HistoryError, match="no history database at"):
        HistoryStore.open(path, read_only=True)
    assert not path.exists()
    with HistoryStore.open(path) as store:
        store.record([period("2026-10", {"A": "Compliant"})])
    with HistoryStore.open(path, read_only=True) as store:
        assert [p.label for p in store.periods()] == ["2026-10"]
        with pytest.raises(HistoryError, match="read only"):
            store.record([period("2026-11", {"A": "Compliant"})])
        # Another process may write meanwhile: a reader holds no lock that stops it.
        with HistoryStore.open(path, busy_timeout=0.1) as writer:
            writer.record([period("2026-11", {"A": "Compliant"})])
    assert rows(path, "SELECT label FROM runs ORDER BY label") == [("2026-10",), ("2026-11",)]
