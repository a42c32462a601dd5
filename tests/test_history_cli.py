"""History on the command line: unusable files stop a run before it fetches; --no-history;
the config's `history`; `reporter history` and `history import` errors."""

import io
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.config import RunSettings
from reporter.errors import HistoryError
from reporter.history import store as store_module
from reporter.history.migrations import LATEST
from reporter.pipeline import run
from reporter.simulator import Fleet


@pytest.fixture
def fleet() -> Fleet:
    return Fleet.generate(servers=6, executions_per_server=2, seed=11)


@pytest.fixture(autouse=True)
def short_wait(monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdout=out)
    return code, out.getvalue()


def inventory_of(fleet: Fleet, path: Path) -> Path:
    done = [e for e in fleet.executions if not e.presentation.patches_as_number]
    lines = ["server_id,execution_id,account_alias"]
    lines += [f"{e.server_id},{e.execution_id},OSD" for e in done]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def urls(sim) -> list[str]:
    return ["--api-url", sim.api_url, "--login-url", sim.login_url]


def valid_history(path: Path) -> Path:
    """A history file with its tables and no period yet."""
    with store_module.HistoryStore.open(path) as store:
        store.record([])
    return path


def make(kind: str, path: Path) -> sqlite3.Connection | None:
    """An unusable history file of ``kind``; for "locked", the connection that holds it."""
    if kind == "not SQLite":
        path.write_text("label,servers\n2026-10,3\n", encoding="utf-8")
    elif kind == "foreign":
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE invoices (id INTEGER)")
    else:
        valid_history(path)
        if kind == "newer":
            with sqlite3.connect(path) as connection:
                connection.execute("UPDATE schema_version SET version = ?", (LATEST + 1,))
        elif kind == "locked":
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            return holder
    return None


@pytest.mark.parametrize("kind", ["not SQLite", "foreign", "newer", "locked"])
def test_an_unusable_history_stops_the_run_before_anything_is_fetched(
    kind, tmp_path, fleet, sim_factory, credentials, capsys
):
    sim = sim_factory(fleet)
    inventory = inventory_of(fleet, tmp_path / "inventory.csv")
    history = tmp_path / "history.sqlite"
    holder = make(kind, history)
    before = history.read_bytes()
    argv = ["run", str(inventory), "--out", str(tmp_path / "out"), "--history", str(history)]
    try:
        code, output = run_cli([*argv, *urls(sim)])
    finally:
        if holder is not None:
            holder.close()
    assert code == 2, output
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(history) in err[0] and "Traceback" not in err[0], err
    assert sim.stats.snapshot()["requests"] == 0
    assert not (tmp_path / "out").exists()
    if kind in ("not SQLite", "foreign"):
        assert history.read_bytes() == before
    else:  # reporter's own file (in WAL mode): still as it was, no period recorded
        with sqlite3.connect(history) as connection:
            version = connection.execute("SELECT version FROM schema_version").fetchone()[0]
            assert connection.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        assert version == (LATEST + 1 if kind == "newer" else LATEST)


def test_a_history_that_cannot_be_written_after_the_reports_leaves_them(
    tmp_path, fleet, sim_factory
):
    sim = sim_factory(fleet)
    history = valid_history(tmp_path / "history.sqlite")
    holder = sqlite3.connect(history, isolation_level=None)

    def clock() -> datetime:
        # Another process starts writing once the run has checked the file.
        if not holder.in_transaction:
            holder.execute("BEGIN IMMEDIATE")
        return datetime.now(UTC)

    out = tmp_path / "out"
    settings = RunSettings(
        inventory=inventory_of(fleet, tmp_path / "inventory.csv"),
        out=out,
        formats=("csv", "html"),
        api_url=sim.api_url,
        login_url=sim.login_url,
        history=history,
        env={"CLC_USER": "demo", "CLC_PASSWORD": "demo"},
    )
    try:
        with pytest.raises(HistoryError) as stopped:
            run(settings, io.StringIO(), clock)
    finally:
        holder.close()
    assert stopped.value.exit_code == 2
    assert "is locked by another process" in str(stopped.value)
    assert "\n" not in str(stopped.value)
    assert len(list(out.glob("patch-compliance-*.csv"))) == 1
    assert len(list(out.glob("patch-compliance-*.html"))) == 1
    [run_json] = out.glob("evidence/*/run.json")
    assert '"finished": true' in run_json.read_text(encoding="utf-8")


def test_no_history_records_nothing_and_says_so(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    inventory = inventory_of(fleet, tmp_path / "inventory.csv")
    out = tmp_path / "out"
    argv = ["run", str(inventory), "--out", str(out), "--format", "html", *urls(sim)]
    code, output = run_cli([*argv, "--no-history"])
    assert code == 0, output
    assert not (out / "history.sqlite").exists() and "Recorded" not in output
    [page] = out.glob("*.html")
    assert "History is not kept for this run (--no-history)" in page.read_text(encoding="utf-8")

    code, output = run_cli(argv)  # the first period recorded: nothing earlier to compare with
    assert code == 0, output
    assert (out / "history.sqlite").is_file() and "vs " not in output
    assert f"Recorded {page.stem.removeprefix('patch-compliance-')} in" in output
    assert "No earlier period is recorded for OSD" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("setting", "expected"), [("false", None), ('"kept/h.sqlite"', "kept/h.sqlite")]
)
def test_the_config_file_chooses_the_history(
    setting, expected, tmp_path, fleet, sim_factory, credentials, monkeypatch
):
    sim = sim_factory(fleet)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kept").mkdir()
    config = tmp_path / "reporter.toml"
    config.write_text(f"history = {setting}\nformat = 'csv'\n", encoding="utf-8")
    inventory = inventory_of(fleet, tmp_path / "inventory.csv")
    argv = ["run", str(inventory), "--out", "out", "--config", str(config)]
    code, output = run_cli([*argv, *urls(sim)])
    assert code == 0, output
    assert not (tmp_path / "out" / "history.sqlite").exists()
    if expected is None:
        assert not list(tmp_path.rglob("*.sqlite"))
    else:
        assert (tmp_path / expected).is_file()
        code, listing = run_cli(["history", "--config", str(config)])
        assert code == 0 and len(listing.splitlines()) == 1


def test_history_listing_refuses_a_missing_or_foreign_file(tmp_path, capsys):
    code, _ = run_cli(["history", "--history", str(tmp_path / "none.sqlite")])
    assert code == 2
    assert "no history database at" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()
    make("foreign", tmp_path / "other.sqlite")
    code, _ = run_cli(["history", "--history", str(tmp_path / "other.sqlite")])
    assert code == 2
    assert "reporter did not write" in capsys.readouterr().err


def test_history_import_needs_evidence_and_for_older_archives_the_inventory(
    tmp_path, fleet, sim_factory, credentials, capsys
):
    history = tmp_path / "history.sqlite"
    code, _ = run_cli(["history", "import", str(tmp_path), "--history", str(history)])
    assert code == 2 and "holds no evidence archive" in capsys.readouterr().err

    sim = sim_factory(fleet)
    inventory = inventory_of(fleet, tmp_path / "inventory.csv")
    month = f"{fleet.executions[0].start:%Y-%m}"
    out = tmp_path / "out"
    argv = ["run", str(inventory), "--out", str(out), "--period", month, "--format", "csv"]
    assert run_cli([*argv, "--no-history", *urls(sim)])[0] in (0, 3)
    label = out / "evidence" / month  # made into an archive of the older, flat layout
    for path in label.iterdir():
        path.rename(out / "evidence" / path.name)
    label.rmdir()
    (out / "evidence" / "run.json").unlink()

    code, _ = run_cli(["history", "import", str(out), "--history", str(history)])
    assert code == 2
    assert "--inventory FILE and --period YYYY-MM" in capsys.readouterr().err
    assert not history.exists()
    argv = ["history", "import", str(out), "--history", str(history)]
    code, output = run_cli([*argv, "--inventory", str(inventory), "--period", month])
    assert code == 0, output
    code, listing = run_cli(["history", "--history", str(history)])
    assert listing.startswith(f"{month} ") and len(listing.splitlines()) == 1


def test_a_failed_e_mail_still_records_the_period(
    tmp_path, fleet, sim_factory, credentials, monkeypatch, capsys
):
    sim = sim_factory(fleet)
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("REPORTER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("REPORTER_SMTP_PORT", str(port))
    monkeypatch.setenv("REPORTER_SMTP_SECURITY", "none")
    monkeypatch.setenv("REPORTER_SMTP_FROM", "reports@example.com")
    inventory = inventory_of(fleet, tmp_path / "inventory.csv")
    out = tmp_path / "out"
    argv = ["run", str(inventory), "--out", str(out), "--format", "pdf", *urls(sim)]
    code, output = run_cli([*argv, "--email-to", "audit@example.com"])
    assert code == 2
    assert "cannot connect to the SMTP server" in capsys.readouterr().err
    assert len(list(out.glob("patch-compliance-*.pdf"))) == 1
    assert "Recorded" in output
    with sqlite3.connect(out / "history.sqlite") as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (1,)
