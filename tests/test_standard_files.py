"""The baseline and exceptions files (SPEC 4a): bad rows listed with their lines, bad files one
line and exit 2 before anything is fetched; how patches, dates and applies_to are read."""

from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from handmade import (
    BASELINE_HEADER,
    EXCEPTIONS_HEADER,
    OK,
    fleet,
    inventory,
    reporter_run,
    run,
    server,
    write_csv,
)
from readers import sheet_rows

from reporter.cli import build_parser
from reporter.config import settings_from_args
from reporter.errors import BaselineError, ConfigError, ExceptionsError, UsageError
from reporter.standard import load_baseline, load_exceptions
from reporter.standard.exceptions import ExceptionRow
from reporter.standard.patches import exception_patch, parse_alternatives
from reporter.standard.required import applies, server_os

W1 = server("VA1OSDWEB01", "Windows Server 2019")
TITLE = "Security Update for Windows Server 2019 (KB5031361)"


def problems(out: Path) -> list[tuple[int, str, str]]:
    book = openpyxl.load_workbook(out / "patch-compliance-2026-10.xlsx")
    return [(row["Line"], row["Kind"], row["Reason"]) for row in sheet_rows(book, "Problems")]


def test_bad_rows_are_listed_with_their_lines(tmp_path, sim_factory, credentials):
    sim = sim_factory(fleet([W1], [run(W1, "VA1-100001", "2026-10-14 02:00", [(TITLE, OK)])]))
    baseline = write_csv(
        tmp_path / "baseline.csv",
        BASELINE_HEADER,
        [
            ["KB12", "", "", "Critical", "2026-09-01", ""],
            ["KB5031361", "", "", "Urgent", "2026-09-01", ""],
            ["KB5031362", "", "", "Critical", "14/10/2026", ""],
            ["KB5031363", "", "", "Critical", "2026-09-01", "owner=ops;cost_center=42"],
            ["openssl.x86_64<=1.0", "", "", "Low", "2026-09-01", ""],
            ["KB5031361", "fine", "", "Critical", "2026-09-01", ""],
            ["kb5031361", "again", "", "Low", "2026-09-02", ""],
            ["KB5031364|openssl", "", "", "Low", "2026-09-01", ""],
        ],
    )
    exceptions = write_csv(
        tmp_path / "exceptions.csv",
        EXCEPTIONS_HEADER,
        [
            ["a/b", "KB5031361", "because", "CISO", "2026-12-31"],
            [W1.server_id, "KB5031361", "because", "", "2026-12-31"],
            [W1.server_id, "KB5031361", "because", "CISO", "soon"],
            [W1.server_id, "*", "because", "CISO", "2026-12-31"],
        ],
    )
    out = tmp_path / "out"
    code, output = reporter_run(
        sim,
        str(inventory(tmp_path / "servers.csv", [W1])),
        "--period",
        "2026-10",
        "--baseline",
        str(baseline),
        "--exceptions",
        str(exceptions),
        "--out",
        str(out),
        "--format",
        "xlsx",
        "--no-history",
    )
    assert code == 3, output  # rejected rows are problems
    listed = problems(out)
    baseline_rows = {
        line: reason for line, kind, reason in listed if kind == "invalid baseline row"
    }
    assert sorted(baseline_rows) == [2, 3, 4, 5, 6, 8, 9]
    assert "neither a KB number" in baseline_rows[2]
    assert "severity 'Urgent' is not one of Critical, Important, Moderate, Low" in baseline_rows[3]
    assert "released '14/10/2026' is not an ISO date (YYYY-MM-DD)" in baseline_rows[4]
    assert "'cost_center', which the inventory does not have" in baseline_rows[5]
    assert "only a minimum version (>=) can be required" in baseline_rows[6]
    assert baseline_rows[8] == "the same patch and applies_to as line 7; line 7 is used"
    assert "mixes KB numbers and Linux packages" in baseline_rows[9]
    rejected = {line: reason for line, kind, reason in listed if kind == "invalid exception row"}
    assert sorted(rejected) == [2, 3, 4]
    assert "may only contain letters, digits and '-'" in rejected[2]
    assert rejected[3] == "no approver"
    assert "expires 'soon' is not an ISO date" in rejected[4]


@pytest.mark.parametrize(
    ("option", "name", "text", "fragment"),
    [
        ("--baseline", "baseline.csv", "kb,title\nKB5031361,x\n", "has no released column"),
        ("--baseline", "baseline.csv", None, "does not exist"),
        ("--baseline", "baseline.csv", "patch,released\n", "has a header but no data rows"),
        (
            "--exceptions",
            "exceptions.csv",
            "server_id,patch\n*,*\n",
            "has no reason or approved_by",
        ),
        ("--exceptions", "exceptions.csv", "\x00\x01binary", "is not a CSV file"),
    ],
)
def test_a_bad_file_stops_the_run_before_anything_is_fetched(
    tmp_path, simulator, credentials, capsys, option, name, text, fragment
):
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code, _ = reporter_run(
        simulator,
        str(inventory(tmp_path / "servers.csv", [W1])),
        option,
        str(path),
        "--out",
        str(out),
    )
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("reporter: error: ") and fragment in line and str(path) in line
    assert simulator.stats.snapshot()["requests"] == 0
    assert not (out / "evidence").exists()


def test_files_read_with_the_inventory_tolerances(tmp_path):
    path = tmp_path / "baseline.csv"
    path.write_bytes(
        b"\xef\xbb\xbfKB;Released;Severity;Applies To\r\n"
        b"kb 5031361;2026-10-14;critical;os=Windows*\r\n\r\n"
        b'"openssl.x86_64 >= 1:1.0.2k-26.el7_9";2026-10-01;;\r\n'
    )
    baseline = load_baseline(path)
    assert not baseline.problems
    first, second = baseline.rows
    assert (first.patch, first.severity, first.released) == (
        "KB5031361",
        "Critical",
        date(2026, 10, 14),
    )
    assert first.applies_to == (("os", "Windows*"),) and first.windows
    assert (second.patch, second.severity, second.line) == (
        "openssl.x86_64>=1:1.0.2k-26.el7_9",
        "",
        4,
    )
    with pytest.raises(BaselineError, match="has no patch or released column"):
        path.write_text("title\nx\n", encoding="utf-8")
        load_baseline(path)
    path.write_text(
        "server,kb,justification,approver,valid until\n*,*,all,CISO,2026-12-31\n", "utf-8"
    )
    [row] = load_exceptions(path).rows
    assert (row.server_id, row.patch, row.expires) == ("*", "*", date(2026, 12, 31))
    with pytest.raises(ExceptionsError, match="columns 'kb' and 'patch' both name the patch"):
        path.write_text("server_id,kb,patch,reason,approved_by,expires\n", encoding="utf-8")
        load_exceptions(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KB5031361", ["KB5031361"]),
        ("kb 5031361 | KB5032190", ["KB5031361", "KB5032190"]),
        ("openssl", ["openssl"]),
        ("python3.11", ["python3.11"]),
        ("openssl.x86_64", ["openssl.x86_64"]),
        ("openssl.x86_64>=1.0.2k-26.el7_9", ["openssl.x86_64>=1.0.2k-26.el7_9"]),
        ("kernel>=3.10.0", ["kernel>=3.10.0"]),
    ],
)
def test_patch_alternatives(text, expected):
    assert [str(alternative) for alternative in parse_alternatives(text)] == expected


@pytest.mark.parametrize(
    "text", ["", "KB12", "KB5031361|", "KB5031361|kb5031361", "a b", "openssl>=", "x>=1 2"]
)
def test_not_a_patch(text):
    with pytest.raises(ValueError):
        parse_alternatives(text)


def test_a_minimum_is_met_in_rpm_order():
    [minimum] = parse_alternatives("openssl.x86_64>=1.0.2k-26.el7_9")
    assert minimum.keys == ("openssl.x86_64",)
    assert minimum.satisfied_by("1.0.2k-26.el7_9") and minimum.satisfied_by("1.0.2k-100.el7_9")
    assert not minimum.satisfied_by("1.0.2k-9.el7_9") and not minimum.satisfied_by(None)
    [any_arch] = parse_alternatives("kernel")
    assert "kernel.x86_64" in any_arch.keys and any_arch.satisfied_by(None)


def test_an_exception_is_in_force_to_the_end_of_its_day():
    row = ExceptionRow(2, "*", "KB 5031361", "why", "CISO", date(2026, 10, 31))
    assert (
        row.matched_patch == "KB5031361" and exception_patch("Openssl.X86_64") == "openssl.x86_64"
    )
    assert row.in_force(datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    assert row.in_force(datetime(2026, 11, 1, tzinfo=UTC))  # October's report, at its end
    assert not row.in_force(datetime(2026, 11, 1, 0, 0, 1, tzinfo=UTC))
    assert row.covers_server("anything") and ExceptionRow(
        2, "va1osdweb01", "*", "", "", date(2026, 1, 1)
    ).covers_server("VA1OSDWEB01")


def rows_of(folder: Path, line: str) -> list:
    """The rows of a one-line baseline (patch, released, applies_to)."""
    path = write_csv(
        folder / "baseline.csv", ["patch", "released", "applies_to"], [line.split(",")]
    )
    return load_baseline(path).rows


def test_applies_to_and_the_operating_system(tmp_path):
    [row] = rows_of(tmp_path, "KB5031361,2026-10-01,os=Windows Server 2019*;environment=prod")
    windows = {"os": "Windows Server 2019 Datacenter", "Environment": "PROD"}
    assert applies(row, windows, "windows")
    assert not applies(row, {**windows, "environment": "dev"}, "windows")
    assert not applies(row, {"os": None, "environment": "prod"}, None)
    [kb] = rows_of(tmp_path, "KB5031361,2026-10-01,")
    assert applies(kb, {}, "windows") and not applies(kb, {}, "linux")
    assert server_os({"OS Type": "RedHat Enterprise Linux 8 64-bit"}, []) == "linux"
    assert server_os({}, ["KB5031361", "KB2267602"]) == "windows"
    assert server_os({}, ["openssl.x86_64"]) == "linux"
    assert server_os({"owner": "ops"}, []) is None


def standard_settings(tmp_path: Path, config: str, *argv: str):
    (tmp_path / "reporter.toml").write_text(config, encoding="utf-8")
    args = build_parser().parse_args(["run", "inv.csv", *argv])
    return settings_from_args(args, env={}, cwd=tmp_path)


def test_the_standard_settings_from_the_config_file(tmp_path):
    settings = standard_settings(
        tmp_path,
        'baseline = "b.csv"\nreboot_pending = "Non-Compliant"\nbaseline_lookback_months = 6\n'
        "[sla_days]\ncritical = 15\nnone = 45\n",
        "--exceptions",
        "e.csv",
    )
    assert (settings.baseline, settings.exceptions) == (Path("b.csv"), Path("e.csv"))
    assert settings.sla_days == {
        "Critical": 15,
        "Important": 30,
        "Moderate": 90,
        "Low": 180,
        "": 45,
    }
    assert not settings.reboot_pending_compliant and settings.baseline_lookback_months == 6
    default = standard_settings(tmp_path, "")
    assert default.reboot_pending_compliant and default.baseline is None
    assert default.baseline_lookback_months == 12 and default.sla_days["Critical"] == 30


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ("[sla_days]\nUrgent = 5\n", "keys are Critical, Important, Moderate, Low or none"),
        ("[sla_days]\nCritical = -1\n", "whole days from 0 to 3650"),
        ("[sla_days]\nCritical = true\n", "whole days from 0 to 3650"),
        ("sla_days = 30\n", "a table of severity = whole days"),
        ('reboot_pending = "later"\n', "reboot_pending must be compliant or non-compliant"),
        ("baseline_lookback_months = 200\n", "between 0 and 120"),
        ("baseline = 3\n", "baseline must be text"),
    ],
)
def test_bad_standard_settings(tmp_path, config, fragment):
    with pytest.raises((ConfigError, UsageError), match=fragment):
        standard_settings(tmp_path, config)
