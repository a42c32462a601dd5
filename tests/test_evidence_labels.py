"""Evidence per period (SPEC 5, 9): each label its own folder, manifest and run.json; what
`--from-archive` reads from an output folder, a label or the older flat layout; what a run
without `--period` resumes."""

import hashlib
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from pypdf import PdfReader

from reporter.cli import main
from reporter.simulator import Fleet


@pytest.fixture
def fleet() -> Fleet:
    return Fleet.generate(servers=6, executions_per_server=2, seed=17)


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdout=out)
    return code, out.getvalue()


def urls(sim) -> list[str]:
    return ["--api-url", sim.api_url, "--login-url", sim.login_url]


def servers_only(fleet: Fleet, path: Path) -> Path:
    lines = ["server_id,execution_id,account_alias,owner"]
    lines += [f"{server.server_id},,OSD,ops" for server in fleet.servers]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def months(fleet: Fleet) -> list[str]:
    return sorted({f"{e.start:%Y-%m}" for e in fleet.executions})


def bodies(folder: Path) -> set[str]:
    """The Patching API's bodies in a label folder (the servers API's are under OSD/_account)."""
    return {
        p.relative_to(folder).as_posix()
        for p in folder.glob("OSD/*/*.json")
        if p.parent.name != "_account"
    }


@pytest.fixture
def two_months(tmp_path, fleet, sim_factory, credentials):
    """Run both months of the fleet into one folder (CSV, and ``formats`` for the second)."""

    def run_both(formats: str = "csv"):
        sim = sim_factory(fleet)
        inventory = servers_only(fleet, tmp_path / "servers.csv")
        out = tmp_path / "out"
        for month in months(fleet):
            argv = ["run", str(inventory), "--out", str(out), "--period", month]
            chosen = formats if month == months(fleet)[-1] else "csv"
            argv += ["--format", chosen, "--title", f"Title {month}", *urls(sim)]
            code, output = run_cli(argv)
            assert code in (0, 3), output
        return sim, inventory, out

    return run_both


def test_each_period_keeps_and_attaches_only_its_own_evidence(two_months, fleet):
    _, inventory, out = two_months("csv,pdf")
    first, second = (out / "evidence" / month for month in months(fleet))
    assert bodies(first) and bodies(second)
    for folder, month in ((first, months(fleet)[0]), (second, months(fleet)[1])):
        entries = json.loads((folder / "manifest.json").read_bytes())["entries"]
        listed = {e["path"] for e in entries if not e["path"].startswith("OSD/_account/")}
        assert listed == bodies(folder)
        executions = {p.split("/")[-1][:-5] for p in listed} - {"_summary"}
        assert executions == {
            e.execution_id for e in fleet.executions if f"{e.start:%Y-%m}" == month
        }
    reader = PdfReader(out / f"patch-compliance-{months(fleet)[1]}.pdf")
    assert reader.attachments["manifest.json"] == [(second / "manifest.json").read_bytes()]
    record = json.loads((second / "run.json").read_bytes())
    assert record["label"] == months(fleet)[1] and record["finished"] is True
    assert record["user_name"] == "demo"
    assert record["settings"]["period"] == months(fleet)[1]
    assert record["settings"]["title"] == f"Title {months(fleet)[1]}"
    assert record["settings"]["account"] == "OSD"
    saved = second / "_input" / "servers.csv"
    assert saved.read_bytes() == inventory.read_bytes()
    assert record["inventory"] == {
        "name": "servers.csv",
        "sha256": hashlib.sha256(inventory.read_bytes()).hexdigest(),
    }


def test_from_archive_takes_the_newest_label_or_the_period_without_the_command_line(
    two_months, fleet, tmp_path
):
    sim, inventory, out = two_months()
    sim.stop()
    first, second = months(fleet)
    inventory.unlink()  # the archive's copy is used
    for archive, period, label in (
        (out, [], second),
        (out, ["--period", first], first),
        (out / "evidence", [], second),
        (out / "evidence" / first, [], first),
    ):
        again = tmp_path / f"again-{archive.name}-{label}"
        argv = ["run", "--from-archive", str(archive), "--out", str(again), "--format", "csv"]
        code, output = run_cli([*argv, "--no-history", *period])
        assert code in (0, 3), output
        assert f"Title {label} {label}:" in output  # the title and period of run.json
        written = again / f"patch-compliance-{label}.csv"
        assert written.read_bytes() == (out / f"patch-compliance-{label}.csv").read_bytes()
    # A re-render records its period too: that is how a user backfills a history.
    again = tmp_path / "recorded"
    code, output = run_cli(
        ["run", "--from-archive", str(out), "--out", str(again), "--format", "csv"]
    )
    assert code in (0, 3) and f"Recorded {second} in" in output
    with sqlite3.connect(again / "history.sqlite") as connection:
        recorded = connection.execute("SELECT label, title, data_source FROM runs").fetchall()
    assert recorded == [(second, f"Title {second}", f"evidence archive {out}")]


def test_an_archive_in_the_older_flat_layout_still_reads(two_months, fleet, tmp_path, capsys):
    _, inventory, out = two_months()
    month = months(fleet)[0]
    flat = tmp_path / "flat"
    shutil.copytree(out / "evidence" / month, flat / "evidence")
    (flat / "evidence" / "run.json").unlink()
    shutil.rmtree(flat / "evidence" / "_input")
    argv = ["run", "--from-archive", str(flat), "--out", str(tmp_path / "again"), "--no-history"]
    code, _ = run_cli([*argv, "--format", "csv"])
    assert code == 2
    assert "no run.json" in capsys.readouterr().err
    code, output = run_cli([*argv, "--format", "csv", str(inventory), "--period", month])
    assert code in (0, 3), output
    written = tmp_path / "again" / f"patch-compliance-{month}.csv"
    assert written.read_bytes() == (out / f"patch-compliance-{month}.csv").read_bytes()


def test_a_changed_saved_inventory_is_refused(two_months, fleet, tmp_path, capsys):
    _, _, out = two_months()
    saved = out / "evidence" / months(fleet)[1] / "_input" / "servers.csv"
    saved.write_text(saved.read_text(encoding="utf-8") + "VA1OSDNEW01,,OSD,ops\n", "utf-8")
    argv = ["run", "--from-archive", str(out), "--out", str(tmp_path / "again")]
    code, _ = run_cli([*argv, "--no-history"])
    assert code == 2
    assert "changed since the run" in capsys.readouterr().err


def test_a_run_without_period_resumes_the_newest_unfinished_date_label(
    tmp_path, fleet, sim_factory, credentials
):
    sim = sim_factory(fleet)
    inventory = servers_only(fleet, tmp_path / "servers.csv")
    out = tmp_path / "out"
    argv = ["run", str(inventory), "--out", str(out), "--format", "csv", *urls(sim)]
    assert run_cli(argv)[0] in (0, 3)
    [today] = (out / "evidence").iterdir()
    # As if that run had been stopped on an earlier day: the next run continues it.
    stopped = out / "evidence" / "2026-01-31"
    today.rename(stopped)
    record = json.loads((stopped / "run.json").read_bytes())
    (stopped / "run.json").write_text(json.dumps({**record, "finished": False}), "utf-8")
    before = sim.stats.snapshot()["by_execution"]
    code, output = run_cli(argv)
    assert code in (0, 3), output
    assert (out / "patch-compliance-2026-01-31.csv").is_file()
    finished = [e for e in fleet.executions if e.status in ("completed", "failed")]
    after = sim.stats.snapshot()["by_execution"]
    assert all(after.get(e.key, 0) == before.get(e.key, 0) for e in finished)  # reused
    assert json.loads((stopped / "run.json").read_bytes())["finished"] is True
    # Finished now: the next run starts its own label.
    assert run_cli(argv)[0] in (0, 3)
    assert sorted(p.name for p in (out / "evidence").iterdir()) == ["2026-01-31", today.name]


def test_a_run_that_fetched_nothing_leaves_no_label_behind(
    tmp_path, fleet, sim_factory, monkeypatch, capsys
):
    sim = sim_factory(fleet)
    inventory = servers_only(fleet, tmp_path / "servers.csv")
    sim.stop()  # nothing answers; a bearer token needs no login, so the fetch itself fails
    for name in ("CLC_USER", "CLC_PASSWORD", "CLC_V2_API_USERNAME", "CLC_V2_API_PASSWD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLC_BEARER_TOKEN", "token-for-nothing-1234")
    out = tmp_path / "out"
    argv = ["run", str(inventory), "--out", str(out), "--account", "OSD", "--retries", "0"]
    code, _ = run_cli([*argv, *urls(sim)])
    assert code == 2
    assert "could not fetch any execution" in capsys.readouterr().err
    assert not out.exists()


def test_without_an_archive_the_inventory_is_needed(tmp_path, capsys):
    code, _ = run_cli(["run", "--out", str(tmp_path / "out")])
    assert code == 2
    assert "give the inventory CSV" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
