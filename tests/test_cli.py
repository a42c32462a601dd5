"""`reporter run`, `demo` and `explain` through main(), against the simulator on loopback."""

import csv
import io
import os
import re
from pathlib import Path

import openpyxl
import pytest
from logins import use_demo_login
from readers import sheet_rows

from reporter.cli import main
from reporter.fileio import FILE_MODE
from reporter.simulator import Fleet, SimulatorServer

FORMATS = ("html", "pdf", "xlsx", "csv")


def cli_fleet() -> Fleet:
    return Fleet.generate(servers=8, executions_per_server=2, seed=11)


@pytest.fixture
def fleet() -> Fleet:
    return cli_fleet()


def listed_in_full(fleet: Fleet) -> list:
    """The fleet's executions whose payload lists its patches (not just a count)."""
    return [e for e in fleet.executions if not e.style.patches_as_number]


def clean_inventory(fleet: Fleet, path: Path) -> Path:
    """An inventory of the fleet's well-formed executions: nothing for the Problems section."""
    lines = ["server_id,execution_id,account_alias,owner"]
    for execution in listed_in_full(fleet):
        lines.append(f"{execution.server_id},{execution.execution_id},{execution.account},ops")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdout=out)
    return code, out.getvalue()


def urls(sim) -> list[str]:
    return ["--api-url", sim.api_url, "--login-url", sim.login_url]


@pytest.fixture(scope="module")
def every_format(tmp_path_factory) -> tuple[Fleet, Path, int, str]:
    """One run in every format (umask 022), read by several tests: (fleet, out, exit, stdout)."""
    folder = tmp_path_factory.mktemp("every-format")
    out = folder / "out"
    fleet = cli_fleet()
    inventory = clean_inventory(fleet, folder / "inventory.csv")
    with pytest.MonkeyPatch.context() as patch, SimulatorServer(fleet) as sim:
        use_demo_login(patch)
        old = os.umask(0o022)
        try:
            code, output = run_cli(["run", str(inventory), "--out", str(out), *urls(sim)])
        finally:
            os.umask(old)
    return fleet, out, code, output


def test_run_writes_every_format(every_format):
    fleet, out, code, output = every_format
    assert code == 0, output
    written = sorted(p.name for p in out.glob("patch-compliance-*") if p.suffix != ".sha256")
    assert [Path(name).suffix for name in written] == [".csv", ".html", ".pdf", ".xlsx"]
    assert sorted(p.name for p in out.glob("*.sha256")) == [f"{name}.sha256" for name in written]
    assert "% compliant" in output and "Wrote:" in output
    [label] = (out / "evidence").iterdir()  # the run's date: it has no period
    assert (label / "manifest.json").is_file() and (label / "run.json").is_file()
    rows = list(csv.DictReader((out / written[0]).open(encoding="utf-8")))
    assert len(rows) == sum(e.patch_count for e in listed_in_full(fleet))


def test_run_with_problem_rows_exits_3(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    fleet.write_inventory(tmp_path / "inventory.csv")
    code, output = run_cli(
        [
            "run",
            str(tmp_path / "inventory.csv"),
            "--out",
            str(tmp_path / "out"),
            "--format",
            "csv",
            *urls(sim),
        ]
    )
    assert code == 3, output
    assert "see the Problems section" in output


def test_period_labels_the_files(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    inventory = clean_inventory(fleet, tmp_path / "inventory.csv")
    month = fleet.executions[0].start.strftime("%Y-%m")
    code, output = run_cli(
        [
            "run",
            str(inventory),
            "--out",
            str(tmp_path),
            "--format",
            "csv,html",
            "--period",
            month,
            *urls(sim),
        ]
    )
    assert code in (0, 3), output
    assert (tmp_path / f"patch-compliance-{month}.csv").is_file()
    assert (tmp_path / f"patch-compliance-{month}.html").is_file()


def test_from_archive_rerenders_without_network(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    inventory = clean_inventory(fleet, tmp_path / "inventory.csv")
    first = tmp_path / "first"
    assert (
        run_cli(["run", str(inventory), "--out", str(first), "--format", "csv", *urls(sim)])[0] == 0
    )
    sim.stop()
    second = tmp_path / "second"
    code, output = run_cli(
        [
            "run",
            str(inventory),
            "--out",
            str(second),
            "--format",
            "csv",
            "--from-archive",
            str(first),
            "--api-url",
            "https://unreachable.invalid/rest",
        ]
    )
    assert code == 0, output
    [csv_first] = first.glob("*.csv")
    [csv_second] = second.glob("*.csv")
    assert csv_first.read_bytes() == csv_second.read_bytes()


def test_bad_inventory_exits_2_and_writes_nothing(tmp_path, credentials, capsys):
    bad = tmp_path / "inventory.csv"
    bad.write_text("owner,environment\nops,prod\n", encoding="utf-8")
    code, _ = run_cli(["run", str(bad), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "inventory.csv" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


def test_bad_credentials_exit_2(tmp_path, fleet, sim_factory, credentials, monkeypatch, capsys):
    sim = sim_factory(fleet)
    monkeypatch.setenv("CLC_PASSWORD", "wrong-password-123")
    inventory = clean_inventory(fleet, tmp_path / "inventory.csv")
    code, _ = run_cli(["run", str(inventory), "--out", str(tmp_path / "out"), *urls(sim)])
    assert code == 2
    err = capsys.readouterr().err
    assert "wrong-password-123" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_credentials_exit_2(tmp_path, fleet, sim_factory, monkeypatch, capsys):
    sim = sim_factory(fleet)
    for name in (
        "CLC_USER",
        "CLC_PASSWORD",
        "CLC_V2_API_USERNAME",
        "CLC_V2_API_PASSWD",
        "CLC_BEARER_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    inventory = clean_inventory(fleet, tmp_path / "inventory.csv")
    code, _ = run_cli(["run", str(inventory), "--out", str(tmp_path / "out"), *urls(sim)])
    assert code == 2
    assert "CLC_USER" in capsys.readouterr().err


def test_plain_http_to_remote_host_refused(tmp_path, fleet, credentials, capsys):
    inventory = clean_inventory(fleet, tmp_path / "inventory.csv")
    code, _ = run_cli(
        [
            "run",
            str(inventory),
            "--out",
            str(tmp_path / "out"),
            "--api-url",
            "http://patching.example.com/rest",
        ]
    )
    assert code == 2
    assert "https" in capsys.readouterr().err


def test_unknown_option_is_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "x.csv", "--colour", "blue"])
    assert stopped.value.code == 2


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2", "Succeeded"),
        ("Result Code: 4", "Failed"),
        ("0x80240022", "WU_E_ALL_UPDATES_FAILED"),
        ("-2145124318", "WU_E_ALL_UPDATES_FAILED"),
        ("2149842978", "WU_E_ALL_UPDATES_FAILED"),
    ],
)
def test_explain(code, expected):
    status, output = run_cli(["explain", code])
    assert status == 0
    assert expected in output


def test_explain_nonsense_exits_2(capsys):
    status, _ = run_cli(["explain", "banana"])
    assert status == 2
    assert "banana" in capsys.readouterr().err


@pytest.mark.slow  # the demo fleet of 240 executions in every format: a 23-page PDF
def test_demo(tmp_path):
    code, output = run_cli(["demo", "--out", str(tmp_path)])
    assert code == 0, output
    for fmt in FORMATS:
        assert len(list(tmp_path.glob(f"patch-compliance-*.{fmt}"))) == 1
    assert "Simulated Patching API" in output
    # Every month is measured against the sample standard written beside the reports, and the
    # latest shows each of its states.
    assert (tmp_path / "demo-baseline.csv").is_file() and (
        tmp_path / "demo-exceptions.csv"
    ).is_file()
    [path] = tmp_path.glob("patch-compliance-*.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    required = sheet_rows(book, "Required by server")
    assert {row["State"] for row in required} == {
        "Installed",
        "Failed",
        "Due",
        "Overdue",
        "Excepted",
    }
    assert {"this period", "history"} <= {row["Evidence"] for row in required}
    assert {row["State"] for row in sheet_rows(book, "Exceptions")} == {
        "in force",
        "expired",
        "stale",
    }
    statuses = {row["Compliance"] for row in sheet_rows(book, "Servers")}
    assert {"Reboot pending", "Compliant (excepted)", "Non-compliant"} <= statuses
    # The console says why the executions the API holds, the rows fetched and the executions
    # counted differ, with the figures the run then shows.
    rows = len((tmp_path / "demo-inventory.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert f"each month's run fetches those {rows} inventory rows" in output
    counted = re.search(r"counts only those that started in its month \((\d+) in (\S+);", output)
    assert counted, output
    assert re.search(rf"\n  {counted.group(1)} executions, ", output)
    assert f"Patch compliance (demo fleet) {counted.group(2)}: " in output


def test_email_settings_checked_before_anything_is_fetched(
    tmp_path, fleet, sim_factory, credentials, monkeypatch, capsys
):
    sim = sim_factory(fleet)
    monkeypatch.delenv("REPORTER_SMTP_HOST", raising=False)
    inventory = clean_inventory(fleet, tmp_path / "inventory.csv")
    out = tmp_path / "out"
    for extra in (
        ["--email-to", "audit@example.com"],
        ["--email-to", "a@x.com", "--format", "csv"],
    ):
        code, _ = run_cli(["run", str(inventory), "--out", str(out), *urls(sim), *extra])
        assert code == 2
        assert not out.exists()
    assert sim.stats.snapshot()["requests"] == 0
    err = capsys.readouterr().err
    assert "REPORTER_SMTP_HOST" in err and "add pdf to --format" in err


def test_reports_are_readable_as_ordinary_files(every_format):
    _, out, code, _ = every_format
    assert code == 0
    files = [path for path in out.rglob("*") if path.is_file()]
    assert len(files) > 4  # the reports and the evidence
    for path in files:
        assert path.stat().st_mode & 0o777 == FILE_MODE, path


def test_refused_token_stops_the_run_and_leaves_nothing(
    tmp_path, fleet, sim_factory, monkeypatch, capsys
):
    sim = sim_factory(fleet)
    for name in ("CLC_USER", "CLC_PASSWORD", "CLC_V2_API_USERNAME", "CLC_V2_API_PASSWD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLC_BEARER_TOKEN", "tok-refused-4711")
    inventory = clean_inventory(fleet, tmp_path / "inventory.csv")
    code, _ = run_cli(
        ["run", str(inventory), "--out", str(tmp_path / "out"), "--account", "OSD", *urls(sim)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "tok-refused-4711" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
