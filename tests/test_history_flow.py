"""The monthly flow with history (SPEC 5a), through `reporter run` against the simulator.

Its executions span four months. Each month is run with `--period`, in order, into one `--out`:
the last report's Trend sheet has the four periods with each month's own Summary figures, its
Changes sheet lists exactly the servers whose status changed (computed here from the Servers
sheets), a rerun keeps four periods, and `history import` of the evidence rebuilds the same
history in a fresh file.
"""

import io
import itertools
import shutil
import sqlite3
import subprocess
from pathlib import Path

import openpyxl
import pytest
from readers import sheet_rows

from reporter.cli import main
from reporter.simulator import Fleet

SERVERS = 12


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdout=out)
    return code, out.getvalue()


def server_inventory(fleet: Fleet, path: Path) -> Path:
    """The monthly flow's inventory: servers only, no execution IDs."""
    lines = ["server_id,execution_id,account_alias,owner"]
    lines += [f"{server.server_id},,OSD,{server.attributes['owner']}" for server in fleet.servers]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def months_of(fleet: Fleet) -> list[str]:
    return sorted({f"{e.start:%Y-%m}" for e in fleet.executions})


def summary(book: openpyxl.Workbook) -> dict:
    return {row["Item"]: row["Value"] for row in sheet_rows(book, "Summary")}


def statuses(book: openpyxl.Workbook) -> dict[str, str]:
    return {row["Server ID"]: row["Compliance"] for row in sheet_rows(book, "Servers")}


def table(database: Path, query: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(query).fetchall()


@pytest.fixture(scope="module")
def monthly(tmp_path_factory, request):
    """Four months run in order into one folder; the books, outputs and the simulator."""
    from reporter.simulator import SimulatorServer

    tmp = tmp_path_factory.mktemp("monthly")
    fleet = Fleet.generate(servers=SERVERS, executions_per_server=4, seed=29)
    inventory = server_inventory(fleet, tmp / "servers.csv")
    out = tmp / "out"
    env = pytest.MonkeyPatch()
    env.setenv("CLC_USER", "demo")
    env.setenv("CLC_PASSWORD", "demo")
    env.delenv("CLC_BEARER_TOKEN", raising=False)
    request.addfinalizer(env.undo)
    sim = SimulatorServer(fleet).start()
    request.addfinalizer(sim.stop)
    urls = ["--api-url", sim.api_url, "--login-url", sim.login_url]
    books, outputs = {}, {}
    months = months_of(fleet)
    for month in months:
        formats = "xlsx,html,pdf" if month == months[-1] else "xlsx"
        argv = ["run", str(inventory), "--out", str(out), "--period", month, "--format", formats]
        code, output = run_cli([*argv, *urls])
        assert code in (0, 3), output  # 3: a payload with only a patch count is a warning
        outputs[month] = output
        books[month] = openpyxl.load_workbook(out / f"patch-compliance-{month}.xlsx")
    return {
        "fleet": fleet,
        "sim": sim,
        "inventory": inventory,
        "out": out,
        "months": months,
        "books": books,
        "outputs": outputs,
        "urls": urls,
    }


def test_the_simulated_fleet_spans_four_months(monthly):
    assert len(monthly["months"]) == 4
    evidence = monthly["out"] / "evidence"
    assert sorted(p.name for p in evidence.iterdir()) == monthly["months"]


def test_the_trend_sheet_has_each_months_own_summary(monthly):
    last = monthly["books"][monthly["months"][-1]]
    trend = sheet_rows(last, "Trend")
    assert [row["Label"] for row in trend] == monthly["months"]
    for row in trend:
        own = summary(monthly["books"][row["Label"]])
        assert row["Servers"] == own["Servers in scope"] == SERVERS
        assert row["Compliant"] == own["Compliant servers"]
        assert row["Non-compliant"] == own["Non-compliant servers"]
        assert row["In progress"] == own["Servers in progress"]
        assert row["No data"] == own["Servers with no data"]
        assert row["Compliance %"] == pytest.approx(100 * own["Compliant (% of servers)"])
    changes = [row["Change points"] for row in trend]
    assert changes[0] is None
    assert changes[1:] == pytest.approx(
        [b["Compliance %"] - a["Compliance %"] for a, b in itertools.pairwise(trend)]
    )


def test_changes_lists_exactly_the_servers_whose_status_changed(monthly):
    months, books = monthly["months"], monthly["books"]
    for before, now in itertools.pairwise(months):
        then, current = statuses(books[before]), statuses(books[now])
        expected = {
            server: (then[server], current[server])
            for server in current
            if then[server] != current[server]
        }
        changes = sheet_rows(books[now], "Changes")
        assert {row["Server ID"]: (row["Previous status"], row["Status"]) for row in changes} == (
            expected
        )
        for row in changes:
            if row["Status"] == "Non-compliant":
                assert row["Change"] == "newly non-compliant"
            elif row["Previous status"] == "Non-compliant" and row["Status"] == "Compliant":
                assert row["Change"] == "fixed"
            else:
                assert row["Change"] == "status changed"
    assert any(sheet_rows(books[m], "Changes") for m in months[1:])  # the test has teeth


def test_the_console_compares_with_the_previous_month(monthly):
    months, books = monthly["months"], monthly["books"]
    then, now = summary(books[months[-2]]), summary(books[months[-1]])
    changes = sheet_rows(books[months[-1]], "Changes")
    fixed = sum(row["Change"] == "fixed" for row in changes)
    newly = sum(row["Change"] == "newly non-compliant" for row in changes)
    a, b = 100 * then["Compliant (% of servers)"], 100 * now["Compliant (% of servers)"]
    line = (
        f"  vs {months[-2]}: {a:.1f}% -> {b:.1f}% ({b - a:+.1f} points), {fixed} fixed, "
        f"{newly} newly non-compliant"
    )
    assert line in monthly["outputs"][months[-1]].splitlines()
    assert "vs " not in monthly["outputs"][months[0]]  # nothing earlier to compare with


def test_persistent_failures_are_the_streaks_of_still_failing_patches(monthly):
    months, books = monthly["months"], monthly["books"]

    def still_failing(month: str) -> set[tuple[str, str]]:
        rows = sheet_rows(books[month], "Failed")
        return {(row["Server ID"], row["Patch key"]) for row in rows if row["Still failing"]}

    failing = {month: still_failing(month) for month in months}
    expected = {}
    for pair in failing[months[-1]]:
        length = len(list(itertools.takewhile(lambda m, p=pair: p in failing[m], reversed(months))))
        if length >= 2:
            expected[pair] = (months[-length], length)
    rows = sheet_rows(books[months[-1]], "Persistent failures")
    found = {(r["Server ID"], r["Patch key"]): (r["Failing since"], r["Periods"]) for r in rows}
    assert found == expected
    assert expected  # the simulator's stubborn server keeps failing


def test_the_html_and_pdf_show_the_trend_section(monthly):
    out, months = monthly["out"], monthly["months"]
    page = (out / f"patch-compliance-{months[-1]}.html").read_text(encoding="utf-8")
    assert 'id="trend"' in page and f"Changes since {months[-2]}" in page
    assert page.index('id="summary"') < page.index('id="trend"') < page.index('id="non-compliant"')
    pdf = subprocess.run(
        ["pdftotext", "-layout", str(out / f"patch-compliance-{months[-1]}.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Trend and changes" in pdf and f"Changes since {months[-2]}" in pdf
    assert "Persistent failures" in pdf


def test_a_rerun_keeps_four_periods_and_history_lists_them(monthly):
    out, months = monthly["out"], monthly["months"]
    argv = ["run", str(monthly["inventory"]), "--out", str(out), "--period", months[-1]]
    code, output = run_cli([*argv, "--format", "csv", *monthly["urls"]])
    assert code in (0, 3), output
    database = out / "history.sqlite"
    assert table(database, "SELECT count(*) FROM runs") == [(4,)]
    code, listing = run_cli(["history", "--history", str(database)])
    assert code == 0
    lines = listing.splitlines()
    assert len(lines) == 4
    for line, month in zip(lines, months, strict=True):
        figures = summary(monthly["books"][month])
        assert line.startswith(f"{month} ")
        assert f"({figures['Compliant servers']}/{SERVERS} servers)" in line


IMPORTED = {
    "runs": "SELECT label, accounts, period, generated_at, title, input_name, input_sha256, "
    "manifest_sha256, tool_version, servers, compliant, compliance_pct, executions, "
    "patches_attempted, problems FROM runs ORDER BY label",
    "run_statuses": "SELECT r.label, s.status, s.servers FROM run_statuses s "
    "JOIN runs r USING (run_id) ORDER BY 1, 2",
    "run_attempts": "SELECT r.label, a.outcome, a.attempts FROM run_attempts a "
    "JOIN runs r USING (run_id) ORDER BY 1, 2",
    "server_status": "SELECT r.label, s.account_alias, s.server_id, s.status, s.reason, "
    "s.attributes FROM server_status s JOIN runs r USING (run_id) ORDER BY 1, 2, 3",
    "patch_ledger": "SELECT r.label, p.account_alias, p.server_id, p.patch_key, p.outcome, "
    "p.attempted_at, p.last_success_at FROM patch_ledger p JOIN runs r USING (run_id) "
    "ORDER BY 1, 2, 3, 4",
}


@pytest.mark.parametrize("by_label", [False, True], ids=["out-folder", "label-folders"])
def test_history_import_rebuilds_the_same_history(monthly, tmp_path, by_label):
    out, months = monthly["out"], monthly["months"]
    requests = monthly["sim"].stats.requests
    fresh = tmp_path / "imported.sqlite"
    folders = [str(out / "evidence" / m) for m in reversed(months)] if by_label else [str(out)]
    code, output = run_cli(["history", "import", *folders, "--history", str(fresh)])
    assert code == 0, output
    assert output.splitlines()[-1] == f"Recorded 4 periods in {fresh}"
    assert monthly["sim"].stats.requests == requests  # rebuilt from the evidence alone
    original = out / "history.sqlite"
    for name, query in IMPORTED.items():
        assert table(fresh, query) == table(original, query), name
    assert len(table(fresh, IMPORTED["patch_ledger"])) > SERVERS
    listing = run_cli(["history", "--history", str(fresh)])[1]
    assert listing == run_cli(["history", "--history", str(original)])[1]


def test_history_import_passes_over_a_run_that_did_not_finish(monthly, tmp_path):
    out, months = monthly["out"], monthly["months"]
    copy = tmp_path / "copy"
    for month in months[:2]:
        shutil.copytree(out / "evidence" / month, copy / "evidence" / month)
    stopped = copy / "evidence" / months[1] / "run.json"
    stopped.write_text(
        stopped.read_text(encoding="utf-8").replace('"finished": true', '"finished": false')
    )
    fresh = tmp_path / "imported.sqlite"
    code, output = run_cli(["history", "import", str(copy), "--history", str(fresh)])
    assert code == 0, output
    assert f"skipped {copy / 'evidence' / months[1]}: its run did not finish" in output
    assert table(fresh, "SELECT label FROM runs") == [(months[0],)]
