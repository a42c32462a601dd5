"""Compliance against a standard (SPEC 4a, 9), through ``reporter run`` against the simulator:
required patches and their states, applies_to, the look-back and the history ledger,
exceptions, and the files' errors."""

import json
import sqlite3
from pathlib import Path

import openpyxl
import pytest
from handmade import (
    BASELINE_HEADER,
    EXCEPTIONS_HEADER,
    FAIL,
    OK,
    fleet,
    inventory,
    reporter_run,
    run,
    server,
    write_csv,
)
from readers import sheet_rows

from reporter import sources
from reporter.cli import main
from reporter.model import validate_model
from reporter.standard.lookback import measure

W1, W2, W3 = (server(f"VA1OSDWEB0{n}", "Windows Server 2019") for n in (1, 2, 3))
W6 = server("VA1OSDWEB06", "Windows Server 2016")
L1 = server("VA1OSDLNX01", "RHEL 7")
SERVERS = [W1, W2, W3, W6, L1]
EVERYWHERE = "Security Update for Windows Server (KB5031361)"
EARLY = "Security Update for Windows Server 2019 (KB5030000)"
OPENSSL = "openssl-1.0.2k-26.el7_9.x86_64"
EXECUTIONS = [
    # September: only W3 installs KB5030000.
    run(W3, "VA1-300001", "2026-09-15 02:00", [(EARLY, OK)]),
    # October, the period reported.
    *(
        run(host, f"VA1-31000{n}", "2026-10-14 02:00", [(EVERYWHERE, OK)])
        for n, host in enumerate([W1, W2, W3, W6], 1)
    ),
    run(L1, "VA1-310009", "2026-10-14 03:00", [(OPENSSL, OK)]),
]
BASELINE = [
    ["KB5031361", "everywhere", "Security Update", "Critical", "2026-09-12", ""],
    ["KB5099999", "nowhere", "Security Update", "Critical", "2026-09-12", "os=Windows Server 2019"],
    ["KB5088888", "recent", "Security Update", "Important", "2026-10-20", ""],
    ["KB5030000", "earlier", "Security Update", "Important", "2026-08-12", "os=Windows*2019"],
    ["openssl.x86_64>=1.0.2k-26.el7_9", "", "Linux package", "Important", "2026-09-01", ""],
    ["openssl.x86_64>=1.0.2k-30.el7_9", "", "Linux package", "Moderate", "2026-10-01", ""],
]


@pytest.fixture
def setup(tmp_path, sim_factory, credentials):
    sim = sim_factory(fleet(SERVERS, EXECUTIONS))
    files = {
        "inventory": inventory(tmp_path / "servers.csv", SERVERS),
        "baseline": write_csv(tmp_path / "baseline.csv", BASELINE_HEADER, BASELINE),
    }
    return sim, files, tmp_path


def book(out: Path, label: str = "2026-10") -> openpyxl.Workbook:
    return openpyxl.load_workbook(out / f"patch-compliance-{label}.xlsx")


def states(workbook: openpyxl.Workbook) -> dict[tuple[str, str], tuple[str, str]]:
    """(server, patch) -> (state, evidence) from the Required by server sheet."""
    return {
        (row["Server ID"], row["Patch"]): (row["State"], row["Evidence"])
        for row in sheet_rows(workbook, "Required by server")
    }


def statuses(workbook: openpyxl.Workbook) -> dict[str, tuple[str, str]]:
    return {
        row["Server ID"]: (row["Compliance"], row["Reason"])
        for row in sheet_rows(workbook, "Servers")
    }


def test_required_patches_installed_due_and_overdue(setup, monkeypatch):
    sim, files, tmp_path = setup
    measured = []

    def keep(*args, **kwargs):
        measured.append(measure(*args, **kwargs))
        return measured[-1]

    monkeypatch.setattr(sources, "measure", keep)
    out = tmp_path / "out"
    code, output = reporter_run(
        sim,
        str(files["inventory"]),
        "--period",
        "2026-10",
        "--baseline",
        str(files["baseline"]),
        "--out",
        str(out),
        "--format",
        "xlsx,html",
        "--no-history",
    )
    assert code == 0, output  # Due patches are reported, not problems
    found = book(out)
    state = states(found)
    windows = [W1, W2, W3, W6]
    for host in windows:
        assert state[(host.server_id, "KB5031361")] == ("Installed", "this period")
        assert state[(host.server_id, "KB5088888")] == ("Due", "none")
    # applies_to: KB5099999 and KB5030000 concern the 2019 servers only, not W6 nor Linux.
    for host in (W1, W2, W3):
        assert state[(host.server_id, "KB5099999")][0] == "Overdue"
    assert (W6.server_id, "KB5099999") not in state
    assert not any(server == L1.server_id and patch.startswith("KB") for server, patch in state)
    # Installed in September: found by looking back through the API, not in October's figures.
    assert state[(W3.server_id, "KB5030000")] == ("Installed", "look-back")
    assert state[(W1.server_id, "KB5030000")] == ("Overdue", "none")
    # A package minimum: 26 meets >= 26, not >= 30 (due: its deadline is after the period).
    assert state[(L1.server_id, "openssl.x86_64>=1.0.2k-26.el7_9")][0] == "Installed"
    assert state[(L1.server_id, "openssl.x86_64>=1.0.2k-30.el7_9")] == ("Due", "none")

    status = statuses(found)
    assert {name for name, (s, _) in status.items() if s == "Non-compliant"} == {
        W1.server_id,
        W2.server_id,
        W3.server_id,
    }
    assert status[W6.server_id][0] == status[L1.server_id][0] == "Compliant"
    reason = status[W3.server_id][1]
    assert reason == "overdue KB5099999 (Critical, released 2026-09-12, 50 days)"
    assert "overdue KB5030000 (Important, released 2026-08-12, 81 days)" in status[W1.server_id][1]

    rollup = {row["Patch"]: row for row in sheet_rows(found, "Required")}
    assert [rollup["KB5099999"][k] for k in ("Servers", "Overdue", "Installed")] == [3, 3, 0]
    assert [rollup["KB5088888"][k] for k in ("Servers", "Due")] == [4, 4]
    summary = {row["Item"]: row["Value"] for row in sheet_rows(found, "Summary")}
    assert summary["Required patches overdue"] == 5
    assert summary["Servers with overdue patches"] == 3
    # The look-back's answers are evidence, not figures: September is not in the report.
    executions = {row["Execution ID"] for row in sheet_rows(found, "Executions")}
    assert "VA1-300001" not in executions
    manifest = json.loads((out / "evidence" / "2026-10" / "manifest.json").read_bytes())
    assert any(entry.get("execution_id") == "VA1-300001" for entry in manifest["entries"])
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert 'id="required"' in html and "Overdue, by server" in html
    [model] = measured
    validate_model(model)  # the standard's frames follow their schema
    # Two KB rows on the 4 Windows servers, two on the three 2019 ones, two on the Linux one.
    assert len(model.required) == 2 * 4 + 2 * 3 + 2


def test_the_history_ledger_shows_an_earlier_installation(setup):
    sim, files, tmp_path = setup
    out = tmp_path / "out"
    common = ["--baseline", str(files["baseline"]), "--out", str(out), "--format", "xlsx"]
    code, output = reporter_run(sim, str(files["inventory"]), "--period", "2026-09", *common)
    assert code == 3, output  # only W3 ran in September: the others are problems then
    # No look-back this time: only the history store can know of September.
    (tmp_path / "reporter.toml").write_text("baseline_lookback_months = 0\n", encoding="utf-8")
    code, output = reporter_run(
        sim,
        str(files["inventory"]),
        "--period",
        "2026-10",
        *common,
        "--config",
        str(tmp_path / "reporter.toml"),
    )
    assert code == 0, output
    state = states(book(out))
    assert state[(W3.server_id, "KB5030000")] == ("Installed", "history")
    assert state[(W1.server_id, "KB5030000")] == ("Overdue", "none")
    manifest = json.loads((out / "evidence" / "2026-10" / "manifest.json").read_bytes())
    assert not any(entry.get("execution_id") == "VA1-300001" for entry in manifest["entries"])
    # The ledger entries it read are kept with the evidence: a re-render elsewhere, without the
    # history file, judges on the same facts.
    again = tmp_path / "again"
    code, _ = reporter_run(
        sim,
        "--from-archive",
        str(out),
        "--period",
        "2026-10",
        "--out",
        str(again),
        "--format",
        "xlsx",
        "--no-history",
    )
    assert code == 0
    assert states(book(again)) == state


def test_exceptions_in_force_expired_and_stale(setup):
    sim, files, tmp_path = setup
    exceptions = write_csv(
        tmp_path / "exceptions.csv",
        EXCEPTIONS_HEADER,
        [
            # In force to the end of the period's last day: W3's only reason is covered.
            [W3.server_id, "kb5099999", "vendor fix pending", "J. Smith (CISO)", "2026-10-31"],
            [W2.server_id, "KB5099999", "change freeze", "A. Jones", "2026-10-15"],  # expired
            ["VA1OSDGONE01", "*", "decommissioned", "J. Smith (CISO)", "2027-01-31"],  # stale
        ],
    )
    out = tmp_path / "out"
    code, output = reporter_run(
        sim,
        str(files["inventory"]),
        "--period",
        "2026-10",
        "--baseline",
        str(files["baseline"]),
        "--exceptions",
        str(exceptions),
        "--out",
        str(out),
        "--format",
        "xlsx,html",
        "--no-history",
    )
    assert code == 0, output  # stale and expired exceptions are listed, not problems
    found = book(out)
    status = statuses(found)
    assert status[W3.server_id][0] == "Compliant (excepted)"
    assert (
        "exception line 2, approved by J. Smith (CISO), until 2026-10-31" in status[W3.server_id][1]
    )
    assert status[W2.server_id][0] == "Non-compliant"
    assert states(found)[(W3.server_id, "KB5099999")] == ("Excepted", "none")
    assert states(found)[(W2.server_id, "KB5099999")] == ("Overdue", "none")
    listed = {row["Line"]: row for row in sheet_rows(found, "Exceptions")}
    assert [listed[n]["State"] for n in (2, 3, 4)] == ["in force", "expired", "stale"]
    assert listed[3]["Matches"] == f"{W2.server_id}: KB5099999"  # what it would cover
    assert listed[4]["Matched"] == 0
    summary = {row["Item"]: row["Value"] for row in sheet_rows(found, "Summary")}
    assert summary["Compliant (excepted) servers"] == 1
    assert summary["Servers counted as compliant"] == 3  # W6, L1 and W3
    assert "Compliant (excepted): 1" not in output  # the console says it in its own words
    assert "compliant (excepted) 1" in output


@pytest.mark.parametrize(
    ("released", "state"),
    # Critical: 30 days. October's report is judged at 2026-11-01 00:00 UTC: a deadline of
    # 2026-11-02 is after it, one of 2026-11-01 is not.
    [("2026-10-03", "Due"), ("2026-10-02", "Overdue"), ("2026-09-30", "Overdue")],
)
def test_the_deadline_is_judged_at_the_end_of_the_period(
    tmp_path, sim_factory, credentials, released, state
):
    sim = sim_factory(fleet([W1], [run(W1, "VA1-310001", "2026-10-14 02:00", [])]))
    baseline = write_csv(
        tmp_path / "baseline.csv",
        BASELINE_HEADER,
        [["KB5099999", "", "", "Critical", released, ""]],
    )
    out = tmp_path / "out"
    code, output = reporter_run(
        sim,
        str(inventory(tmp_path / "servers.csv", [W1])),
        "--period",
        "2026-10",
        "--baseline",
        str(baseline),
        "--out",
        str(out),
        "--format",
        "xlsx",
        "--no-history",
    )
    assert code == 0, output
    assert states(book(out))[(W1.server_id, "KB5099999")][0] == state
    # A re-render later gives the same answer: the reference date is the period's end.
    again = tmp_path / "again"
    code, _ = reporter_run(
        sim, "--from-archive", str(out), "--out", str(again), "--format", "xlsx", "--no-history"
    )
    assert code == 0
    assert states(book(again))[(W1.server_id, "KB5099999")][0] == state


def test_a_re_render_measures_against_the_standard_the_run_kept(setup):
    sim, files, tmp_path = setup
    out = tmp_path / "out"
    code, _ = reporter_run(
        sim,
        str(files["inventory"]),
        "--period",
        "2026-10",
        "--baseline",
        str(files["baseline"]),
        "--out",
        str(out),
        "--format",
        "xlsx",
        "--no-history",
    )
    assert code == 0
    files["baseline"].write_text("patch,released\nKB1234567,2026-01-01\n", encoding="utf-8")
    record = json.loads((out / "evidence" / "2026-10" / "run.json").read_bytes())
    assert record["settings"]["baseline"]["name"] == "baseline.csv"
    assert record["settings"]["sla_days"]["Critical"] == 30
    again = tmp_path / "again"
    sim.stop()  # no network: the look-back reads the saved answers too
    code, output = reporter_run(
        sim, "--from-archive", str(out), "--out", str(again), "--format", "xlsx", "--no-history"
    )
    assert code == 0, output
    assert states(book(again)) == states(book(out))


def test_exceptions_without_a_baseline_cover_failures(tmp_path, sim_factory, credentials):
    failing = [run(W1, "VA1-310001", "2026-10-14 02:00", [(EVERYWHERE, FAIL)])]
    failing.append(run(W2, "VA1-310002", "2026-10-14 02:00", [(EVERYWHERE, FAIL), (EARLY, FAIL)]))
    sim = sim_factory(fleet([W1, W2], failing))
    exceptions = write_csv(
        tmp_path / "exceptions.csv",
        EXCEPTIONS_HEADER,
        [["*", "KB5031361", "known bad update", "CISO", "2026-12-31"]],
    )
    out = tmp_path / "out"
    code, output = reporter_run(
        sim,
        str(inventory(tmp_path / "servers.csv", [W1, W2])),
        "--period",
        "2026-10",
        "--exceptions",
        str(exceptions),
        "--out",
        str(out),
        "--format",
        "xlsx",
    )
    assert code == 0, output
    found = book(out)
    status = statuses(found)
    assert status[W1.server_id] == (
        "Compliant (excepted)",
        "every reason against it is excepted: KB5031361 (exception line 2, approved by CISO, "
        "until 2026-12-31)",
    )
    # W2's other failure is not covered: it stays non-compliant, and says what is excepted.
    assert status[W2.server_id][0] == "Non-compliant"
    assert status[W2.server_id][1].startswith("1 patch failed: KB5030000; excepted: KB5031361")
    assert "Required" not in found.sheetnames
    [listed] = sheet_rows(found, "Exceptions")
    assert (listed["State"], listed["Matched"]) == ("in force", 2)
    # The history records the statuses, and an import from the evidence gives the same.
    imported = tmp_path / "imported.sqlite"
    assert main(["history", "import", str(out), "--history", str(imported)]) == 0
    query = "SELECT server_id, status, reason FROM server_status ORDER BY server_id"
    with sqlite3.connect(out / "history.sqlite") as first, sqlite3.connect(imported) as again:
        assert first.execute(query).fetchall() == again.execute(query).fetchall()
