"""`reporter inventory`: the account's servers as an inventory CSV, against the simulator."""

import csv
import io

import pytest

from reporter.account import INVENTORY_COLUMNS
from reporter.cli import main
from reporter.inventory import load_inventory
from reporter.simulator import Fleet


@pytest.fixture
def fleet() -> Fleet:
    return Fleet.generate(servers=20, executions_per_server=2, seed=7)


def inventory_cli(sim, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    urls = ["--login-url", sim.login_url, "--servers-api-url", sim.servers_api_url]
    return main(["inventory", *argv, *urls], stdout=out), out.getvalue()


def rows_of(path) -> list[dict]:
    return list(csv.DictReader(path.open(encoding="utf-8", newline="")))


def test_every_active_server_with_its_attributes(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    path = tmp_path / "servers.csv"
    code, output = inventory_cli(sim, "--out", str(path))
    assert code == 0, output
    assert f"Wrote 23 active servers of account OSD (the whole account) to {path}" in output
    rows = rows_of(path)
    assert list(rows[0]) == [*INVENTORY_COLUMNS, "CMDB ID", "Cost Center"]
    assert sorted(row["server_id"] for row in rows) == sorted(
        server.server_id for server in fleet.active_servers
    )
    servers = {server.server_id: server for server in fleet.active_servers}
    for row in rows:
        server = servers[row["server_id"]]
        assert row["account_alias"] == "OSD" and row["data_center"] == server.datacenter
        assert row["group"] == fleet.directory.group_path(server.server_id)
        assert row["status"] == "active" and row["power_state"] == server.power_state
        assert row["os"] and row["os_type"] and row["description"]
        assert row["Cost Center"].startswith("CC-") and row["CMDB ID"].startswith("CI")

    inventory = load_inventory(path)  # a valid `reporter run` inventory
    assert inventory.problems == [] and len(inventory.rows) == 23
    assert all(row.execution_id is None for row in inventory.rows)
    out = tmp_path / "out"
    urls = ["--api-url", sim.api_url, "--login-url", sim.login_url]
    report = io.StringIO()
    code = main(["run", str(path), "--out", str(out), "--format", "csv", *urls], stdout=report)
    assert code in (0, 3) and "covers 23 of 23 active servers" in report.getvalue()


def test_all_statuses_adds_the_archived_servers(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    path = tmp_path / "all.csv"
    code, output = inventory_cli(sim, "--out", str(path), "--all-statuses")
    assert code == 0 and "Wrote 25 servers" in output
    statuses = {row["server_id"]: row["status"] for row in rows_of(path)}
    for server in fleet.archived_servers:
        assert statuses.pop(server.server_id) == "archived"
    assert set(statuses.values()) == {"active"} and len(statuses) == 23


def test_data_center_and_group_limit_the_list(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    first = fleet.active_servers[0]
    role = fleet.directory.group_path(first.server_id).split("/")[1]
    path = tmp_path / "team.csv"
    dc_list = f"{first.datacenter.lower()},{fleet.active_servers[1].datacenter}"
    code, _ = inventory_cli(sim, "--out", str(path), "--data-center", dc_list, "--group", role)
    assert code == 0
    dcs = {first.datacenter, fleet.active_servers[1].datacenter}
    expected = [
        s.server_id
        for s in fleet.active_servers
        if s.datacenter in dcs and f"/{role}/" in fleet.directory.group_path(s.server_id)
    ]
    assert first.server_id in expected
    assert sorted(row["server_id"] for row in rows_of(path)) == sorted(expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--data-center", "ZZ9"], "account OSD has no data center ZZ9"),
        (["--group", "Nowhere"], "no server of account OSD is in a group 'Nowhere'"),
    ],
)
def test_a_scope_that_names_nothing_exits_2(
    tmp_path, fleet, sim_factory, credentials, capsys, options, message
):
    sim = sim_factory(fleet)
    code, _ = inventory_cli(sim, "--out", str(tmp_path / "x.csv"), *options)
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_a_login_that_cannot_read_the_servers_api_exits_2(
    tmp_path, fleet, sim_factory, credentials, capsys
):
    sim = sim_factory(fleet, servers_api=False)
    code, _ = inventory_cli(sim, "--out", str(tmp_path / "x.csv"))
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "cannot list the servers of account OSD" in line and "HTTP 403" in line
    assert not (tmp_path / "x.csv").exists()


def test_out_naming_a_folder_is_refused_before_login(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    code, _ = inventory_cli(sim, "--out", str(tmp_path))
    assert code == 2 and sim.stats.logins == 0
