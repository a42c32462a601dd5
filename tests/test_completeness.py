"""The completeness check and `--all-servers` through `reporter run`, against the simulator."""

import hashlib
import io
import socket
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest
from readers import sheet_rows
from test_faults import CASES

from reporter.account import AccountListing, ListedServer, Scope
from reporter.cli import main
from reporter.completeness import check_completeness
from reporter.inventory import load_inventory
from reporter.simulator import Fleet, SimServer

FINDING_KEYS = ("Account alias", "Server ID", "Finding", "Data center", "Group", "Reason", "Line")


@pytest.fixture
def fleet() -> Fleet:
    return Fleet.generate(servers=20, executions_per_server=2, seed=7)


def write_servers(path: Path, server_ids: Sequence[str], fleet: Fleet | None = None) -> Path:
    """An inventory of these servers: with a fleet, a row per execution that lists its patches
    (so that nothing lands under Problems), else one row per server."""
    lines = ["server_id,execution_id,owner"]
    for server_id in server_ids:
        executions = fleet.server_executions("OSD", server_id) if fleet else []
        listed = [e for e in executions if not e.style.patches_as_number]
        lines += [f"{server_id},{e.execution_id},ops" for e in listed] or [f"{server_id},,ops"]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(sim, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    urls = ["--api-url", sim.api_url, "--login-url", sim.login_url]
    return main(["run", *argv, *urls], stdout=out), out.getvalue()


def workbook(out: Path) -> openpyxl.Workbook:
    [path] = out.glob("patch-compliance-*.xlsx")
    return openpyxl.load_workbook(path)


def findings(out: Path) -> list[tuple]:
    return [
        tuple(row[k] for k in FINDING_KEYS) for row in sheet_rows(workbook(out), "Completeness")
    ]


def summary(out: Path) -> dict:
    return {row["Item"]: row["Value"] for row in sheet_rows(workbook(out), "Summary")}


def ids(servers: Sequence[SimServer]) -> list[str]:
    return [server.server_id for server in servers]


def test_an_inventory_missing_three_active_servers_lists_exactly_those(
    tmp_path, fleet, sim_factory, credentials
):
    sim = sim_factory(fleet)
    active = ids(fleet.active_servers)
    left_out = sorted([active[1], active[6], active[-1]])  # the last is one the fleet hides
    kept = [s for s in active if s not in left_out]
    inventory = write_servers(tmp_path / "inventory.csv", kept, fleet)
    out = tmp_path / "out"
    code, output = run_cli(sim, str(inventory), "--out", str(out), "--format", "xlsx,html")
    assert code == 0, output
    line = f"The inventory covers {len(active) - 3} of {len(active)} active servers of account OSD"
    assert f"{line} (3 not listed)." in output
    rows = findings(out)
    assert [row[1] for row in rows] == left_out
    for alias, server_id, finding, dc, group, reason, number in rows:
        assert (alias, finding, reason, number) == ("OSD", "not in the inventory", "active", None)
        assert dc == server_id[:3] and group == fleet.directory.group_path(server_id)
    facts = summary(out)
    assert facts["Active servers of OSD"] == len(active)
    assert facts["Not in the inventory (OSD)"] == 3
    assert facts["Servers in scope"] == len(active) - 3  # unlisted servers are not counted
    [page] = out.glob("*.html")
    html = page.read_text(encoding="utf-8")
    assert 'id="completeness"' in html and f"{line} (3 not listed)." in html
    assert (
        html.index('id="executions"')
        < html.index('id="completeness"')
        < html.index('id="problems"')
    )


def test_archived_and_unknown_servers_are_not_in_the_account(
    tmp_path, fleet, sim_factory, credentials
):
    sim = sim_factory(fleet)
    listed = [*ids(fleet.active_servers), *ids(fleet.archived_servers), "VA1OSDNOPE01"]
    inventory = write_servers(tmp_path / "inventory.csv", listed)
    out = tmp_path / "out"
    code, output = run_cli(sim, str(inventory), "--out", str(out), "--format", "xlsx")
    assert code == 3, output  # the Patching API does not know them: problems, as ever
    assert "(0 not listed); 3 servers it lists are not in the account." in output
    rows = findings(out)
    line_of = {server_id: number for number, server_id in enumerate(listed, start=2)}
    archived = [
        (s.server_id, s.datacenter, f"{s.datacenter} Hardware/Archive", "archived")
        for s in fleet.archived_servers
    ]
    expected = [
        ("OSD", server_id, "not in the account", dc, group, reason, line_of[server_id])
        for server_id, dc, group, reason in [
            *archived,
            ("VA1OSDNOPE01", None, None, "no such server"),
        ]
    ]
    assert sorted(rows, key=lambda r: r[1]) == sorted(expected, key=lambda r: r[1])


def test_all_servers_with_a_period_reports_every_active_server(
    tmp_path, fleet, sim_factory, credentials
):
    sim = sim_factory(fleet)
    out = tmp_path / "out"
    code, output = run_cli(
        sim, "--all-servers", "--period", "2026-11", "--out", str(out), "--format", "xlsx,csv"
    )
    book = workbook(out)
    # An execution that gives only a patch count is a warning, not a problem (SPEC 9).
    assert sheet_rows(book, "Problems") == []
    assert code == 0, output
    servers = sheet_rows(book, "Servers")
    assert sorted(row["Server ID"] for row in servers) == sorted(ids(fleet.active_servers))
    statuses = {"Compliant", "Non-compliant", "In progress", "Reboot pending"}
    assert {row["Compliance"] for row in servers} <= statuses
    by_id = {row["Server ID"]: row for row in servers}
    for server in fleet.active_servers:
        row = by_id[server.server_id]
        assert row["group"] == fleet.directory.group_path(server.server_id)
        assert row["data_center"] == server.datacenter and row["power_state"] == server.power_state
        assert row["Cost Center"].startswith("CC-") and row["CMDB ID"].startswith("CI")
    saved = out / "evidence" / "2026-11" / "_input" / "account-servers.csv"
    facts = summary(out)
    assert facts["Input file"] == "account server list (API)"
    assert facts["Input file SHA-256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert facts["Not in the inventory (OSD)"] == 0 and findings(out) == []
    assert f"covers {len(servers)} of {len(servers)} active servers" in output

    again = tmp_path / "again"  # the run.json says what the inventory was
    argv = ["run", "--from-archive", str(out), "--out", str(again), "--format", "xlsx,csv"]
    assert main(argv, stdout=io.StringIO()) == 0
    assert summary(again)["Input file"] == "account server list (API)"
    assert summary(again)["Input file SHA-256"] == facts["Input file SHA-256"]
    assert sheet_rows(workbook(again), "Servers") == servers
    assert summary(again)["Active servers of OSD"] == len(servers)
    [first_csv], [second_csv] = out.glob("*.csv"), again.glob("*.csv")
    assert first_csv.read_bytes() == second_csv.read_bytes()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v2"


@pytest.mark.parametrize("case", ["403", "404", "no answer"])
def test_a_servers_api_the_login_cannot_read_is_not_performed_and_exit_0(
    tmp_path, fleet, sim_factory, credentials, case
):
    sim = sim_factory(fleet, servers_api=case != "403")
    inventory = write_servers(tmp_path / "inventory.csv", ids(fleet.active_servers), fleet)
    extra = {
        "403": [],
        "404": ["--servers-api-url", f"{sim.base_url}/elsewhere/v2"],
        "no answer": ["--servers-api-url", closed_port(), "--retries", "1"],
    }[case]
    out = tmp_path / "out"
    code, output = run_cli(sim, str(inventory), "--out", str(out), "--format", "xlsx,html", *extra)
    assert code == 0, output
    reason = {"403": "HTTP 403", "404": "HTTP 404", "no answer": "connection refused"}[case]
    [line] = [text for text in output.splitlines() if "Inventory completeness" in text]
    assert "not performed: the data centers of account OSD" in line and reason in line
    assert summary(out)["Inventory completeness"].startswith("not performed: ")
    assert findings(out) == []
    [page] = out.glob("*.html")
    assert '<p class="empty">Not performed: the data centers of account OSD' in page.read_text()


def test_all_servers_without_the_servers_api_stops_with_one_line(
    tmp_path, fleet, sim_factory, credentials, capsys
):
    sim = sim_factory(fleet, servers_api=False)
    code, _ = run_cli(sim, "--all-servers", "--out", str(tmp_path / "out"))
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert (
        line.startswith("reporter: error: cannot list the servers of account OSD") and "403" in line
    )
    assert not list((tmp_path / "out").glob("evidence/*/_input/account-servers.csv"))


@pytest.mark.slow
def test_the_check_under_the_fault_mix_gives_the_clean_result(
    tmp_path, fleet, sim_factory, credentials
):
    inventory = write_servers(tmp_path / "inventory.csv", ids(fleet.servers)[2:], fleet)
    options = ["--format", "xlsx", "--retries", "10", "--timeout", "0.75", "--concurrency", "16"]
    clean = tmp_path / "clean"
    assert run_cli(sim_factory(fleet), str(inventory), "--out", str(clean), *options)[0] == 0
    faults = CASES["all"].faults  # every fault of the fault matrix at once
    sim = sim_factory(Fleet.generate(servers=20, executions_per_server=2, seed=7), faults)
    faulty = tmp_path / "faulty"
    code, output = run_cli(sim, str(inventory), "--out", str(faulty), *options)
    assert code == 0, output
    assert len(findings(clean)) == 5  # two left out, and the three the fleet hides
    assert findings(faulty) == findings(clean)
    keys = [key for key in summary(clean) if "OSD" in str(key) or "completeness" in str(key)]
    assert [summary(faulty)[key] for key in keys] == [summary(clean)[key] for key in keys]
    stats = sim.stats.snapshot()
    assert stats["by_kind"]["group"] >= 8 and sum(stats["faults"].values()) > 0


def test_no_completeness_check_asks_the_servers_api_nothing(
    tmp_path, fleet, sim_factory, credentials
):
    sim = sim_factory(fleet)
    inventory = write_servers(tmp_path / "inventory.csv", ids(fleet.servers), fleet)
    config = tmp_path / "reporter.toml"
    config.write_text("completeness_check = false\n")
    for options in (["--no-completeness-check"], ["--config", str(config)]):
        out = tmp_path / options[-1].replace("/", "_")
        code, output = run_cli(sim, str(inventory), "--out", str(out), "--format", "xlsx", *options)
        assert code == 0
        assert "Inventory completeness: not performed: turned off" in output
    assert "datacenters" not in sim.stats.snapshot()["by_kind"]


def test_group_and_data_center_limit_the_scope(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    inventory = write_servers(tmp_path / "inventory.csv", ids(fleet.servers), fleet)
    hidden = fleet.unlisted_servers[0]
    role = fleet.directory.group_path(hidden.server_id).split("/")[1]
    cases = {
        "dc": (["--data-center", hidden.datacenter.lower()], f"data center {hidden.datacenter}"),
        "group": (["--group", role.upper()], f"group {role.upper()}"),
    }
    for name, (options, scope) in cases.items():
        out = tmp_path / name
        code, _ = run_cli(sim, str(inventory), "--out", str(out), "--format", "xlsx", *options)
        assert code == 0
        rows = findings(out)
        assert hidden.server_id in [row[1] for row in rows]
        expected = [
            s.server_id
            for s in fleet.unlisted_servers
            if (name == "dc" and s.datacenter == hidden.datacenter)
            or (name == "group" and f"/{role}/" in fleet.directory.group_path(s.server_id))
        ]
        assert sorted(row[1] for row in rows) == sorted(expected)
        assert summary(out)["Inventory completeness scope"] == scope
        again = tmp_path / f"{name}-again"  # the scope comes from the run's run.json
        argv = ["run", "--from-archive", str(out), "--out", str(again), "--format", "xlsx"]
        assert main(argv, stdout=io.StringIO()) == 0
        assert findings(again) == rows and summary(again)["Inventory completeness scope"] == scope
    code, output = run_cli(
        sim, str(inventory), "--out", str(tmp_path / "none"), "--format", "xlsx", "--group", "Nope"
    )
    assert code == 0
    assert "not performed: no server of account OSD is in a group 'Nope'" in output


def test_from_archive_rerenders_the_same_check_or_says_it_was_not_performed(
    tmp_path, fleet, sim_factory, credentials
):
    sim = sim_factory(fleet)
    inventory = write_servers(tmp_path / "inventory.csv", ids(fleet.servers)[1:], fleet)
    checked, unchecked = tmp_path / "checked", tmp_path / "unchecked"
    assert run_cli(sim, str(inventory), "--out", str(checked), "--format", "xlsx")[0] == 0
    off = ["--format", "xlsx", "--no-completeness-check"]
    assert run_cli(sim, str(inventory), "--out", str(unchecked), *off)[0] == 0
    sim.stop()
    for archive, expected in ((checked, findings(checked)), (unchecked, [])):
        again = tmp_path / f"{archive.name}-again"
        argv = ["run", str(inventory), "--from-archive", str(archive), "--out", str(again)]
        out = io.StringIO()
        assert main([*argv, "--format", "xlsx"], stdout=out) == 0
        assert findings(again) == expected
        if archive is unchecked:
            assert "not performed: the evidence holds no server listing of account OSD" in (
                out.getvalue()
            )
        else:
            assert len(expected) == 4 and "covers 19 of 23 active servers" in out.getvalue()


def test_two_accounts_one_unreadable(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text("server_id,account_alias\nA1,ONE\nB1,TWO\n")
    listing = AccountListing("ONE", ("VA1",), (ListedServer("ONE", "A1", "VA1", "VA1 Hardware"),))
    frame, coverage = check_completeness(
        load_inventory(path), None, {"ONE": listing, "TWO": "access denied (HTTP 403)"}, Scope()
    )
    assert frame.empty and coverage.performed
    assert coverage.lines == [
        "The inventory covers 1 of 1 active servers of account ONE (0 not listed).",
        "Inventory completeness of account TWO: not performed: access denied (HTTP 403)",
    ]


def test_usage_errors_come_before_the_login(tmp_path, fleet, sim_factory, credentials, capsys):
    sim = sim_factory(fleet)
    inventory = write_servers(tmp_path / "inventory.csv", ids(fleet.servers))
    out = str(tmp_path / "out")
    cases = {
        "neither": ([], "give the inventory CSV, or --all-servers"),
        "both": ([str(inventory), "--all-servers"], "not both"),
        "insecure": (
            [str(inventory), "--servers-api-url", "http://servers.example.com/v2"],
            "servers API URL http://servers.example.com/v2 would send credentials unencrypted",
        ),
    }
    for options, message in cases.values():
        code, _ = run_cli(sim, *options, "--out", out)
        assert code == 2 and message in capsys.readouterr().err
    assert sim.stats.logins == 0 and not (tmp_path / "out").exists()
