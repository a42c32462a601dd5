"""The simulator's servers API (SPEC 1a), through real loopback HTTP."""

import io
import json

import pytest
import requests

from reporter.cli import build_parser
from reporter.simulator import FaultConfig, Fleet, SimulatorServer
from reporter.simulator.cli import start_simulator

LOGIN = {"username": "demo", "password": "demo"}


def fleet_of(servers: int = 20, seed: int = 7) -> Fleet:
    return Fleet.generate(servers=servers, executions_per_server=2, seed=seed)


def session_for(sim: SimulatorServer) -> requests.Session:
    session = requests.Session()
    token = session.post(sim.login_url, json=LOGIN, timeout=5).json()["bearerToken"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def walk(group: dict, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    path = (*path, group["name"])
    found = [(path, group)]
    for child in group["groups"]:
        found += walk(child, path)
    return found


def account_tree(sim: SimulatorServer, alias: str = "OSD") -> dict[str, list]:
    """Every group of every data center, walked as a client would: {dc: [(path, group)]}."""
    with session_for(sim) as session:
        base = sim.servers_api_url
        datacenters = session.get(f"{base}/datacenters/{alias}", timeout=5).json()
        trees = {}
        for datacenter in datacenters:
            dc = datacenter["id"]
            detail = session.get(f"{base}/datacenters/{alias}/{dc}?groupLinks=true", timeout=5)
            [root] = [link for link in detail.json()["links"] if link["rel"] == "group"]
            trees[dc] = walk(session.get(f"{base}/groups/{alias}/{root['id']}", timeout=5).json())
    return trees


def test_data_centers_groups_and_servers_describe_the_whole_account(sim_factory):
    fleet = fleet_of()
    trees = account_tree(sim_factory(fleet))
    every = [*fleet.servers, *fleet.unlisted_servers, *fleet.archived_servers]
    assert sorted(trees) == sorted({server.server_id[:3] for server in every})
    linked = {}
    for dc, groups in trees.items():
        assert groups[0][0] == (f"{dc} Hardware",) and groups[0][1]["type"] == "default"
        for path, group in groups:
            for link in group["links"]:
                if link["rel"] == "server":
                    assert link["href"] == f"/v2/servers/osd/{link['id'].lower()}"
                    linked[link["id"]] = (path, group["type"])
    assert sorted(linked) == sorted(server.server_id for server in every)
    for server in [*fleet.servers, *fleet.unlisted_servers]:
        path, kind = linked[server.server_id]
        assert kind == "default" and len(path) == 3  # e.g. VA1 Hardware/Web/Prod
    for server in fleet.archived_servers:
        assert linked[server.server_id] == ((f"{server.datacenter} Hardware", "Archive"), "archive")
    assert len(fleet.unlisted_servers) == 3 and len(fleet.archived_servers) == 2
    listed = {row["server_id"] for row in fleet.inventory_rows()}
    assert not listed & {s.server_id for s in [*fleet.unlisted_servers, *fleet.archived_servers]}


def test_a_server_record_has_its_attributes_custom_fields_and_status(sim_factory):
    fleet = fleet_of(servers=60, seed=2026)
    sim = sim_factory(fleet)
    styles, places = set(), set()
    with session_for(sim) as session:
        for server in [*fleet.servers, *fleet.archived_servers]:
            url = f"{sim.servers_api_url}/servers/osd/{server.server_id.lower()}"
            record = session.get(url, timeout=5).json()
            styles.add("Id" in record)
            record = {key[0].lower() + key[1:]: value for key, value in record.items()}
            details = {key[0].lower() + key[1:]: v for key, v in record["details"].items()}
            assert record["id"] == server.server_id and record["locationId"] == server.datacenter
            assert record["status"] == server.status and record["osType"]
            assert details["powerState"] == server.power_state
            fields = record.get("customFields") or details.get("customFields")
            places.add("customFields" in record)
            names = {(f.get("name") or f.get("Name")) for f in fields}
            assert names == {"Cost Center", "CMDB ID"}
    assert styles == {True, False} and places == {True, False}  # both shapes are served


def test_unlisted_servers_are_patched_and_archived_ones_are_not(sim_factory):
    fleet = fleet_of()
    sim = sim_factory(fleet)
    with session_for(sim) as session:
        for server in fleet.unlisted_servers:
            url = f"{sim.api_url}/servers/OSD/server/{server.server_id}/patch"
            assert len(session.get(url, timeout=5).json()) == 2
        for server in fleet.archived_servers:
            url = f"{sim.api_url}/servers/OSD/server/{server.server_id}/patch"
            assert session.get(url, timeout=5).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/datacenters/OTHER",
        "/datacenters/OSD/XX9?groupLinks=true",
        "/groups/OSD/0123",
        "/servers/OSD/NOSUCH01",
        "/servers/OSD/%2e%2e%2Fdatacenters",
        "/servers/OSD",
    ],
)
def test_unknown_things_are_404(sim_factory, path):
    sim = sim_factory(fleet_of())
    with session_for(sim) as session:
        assert session.get(sim.servers_api_url + path, timeout=5).status_code == 404


def test_a_login_without_the_role_gets_403_and_no_token_gets_401(sim_factory):
    sim = sim_factory(fleet_of(), servers_api=False)
    with session_for(sim) as session:
        answer = session.get(f"{sim.servers_api_url}/datacenters/OSD", timeout=5)
        assert answer.status_code == 403 and "permission" in answer.json()["message"]
    assert requests.get(f"{sim.servers_api_url}/datacenters/OSD", timeout=5).status_code == 401


def test_faults_apply_to_the_servers_api(sim_factory):
    sim = sim_factory(fleet_of(), FaultConfig(error_rate=1.0))
    with session_for(sim) as session:
        assert session.get(f"{sim.servers_api_url}/datacenters/OSD", timeout=5).status_code >= 500
    assert sim.stats.snapshot()["faults"]["error"] == 1


def test_the_banner_names_the_servers_api(tmp_path):
    args = build_parser().parse_args(["simulate", "--port", "0", "--servers", "12"])
    out = io.StringIO()
    sim = start_simulator(args, out)
    try:
        text = out.getvalue()
        assert f"Servers API:  {sim.servers_api_url}" in text
        assert f"REPORTER_SERVERS_API_URL={sim.servers_api_url}" in text
        assert "3 active servers the inventory leaves out and 2 archived" in text
    finally:
        sim.stop()


def test_same_seed_same_answers():
    def bodies(fleet: Fleet) -> list[bytes | None]:
        directory = fleet.directory
        return [
            directory.datacenters_bytes(),
            *(directory.group_bytes(root.group_id) for root in directory.roots.values()),
            *(directory.server_bytes(server.server_id) for server in fleet.active_servers),
        ]

    first = bodies(fleet_of(seed=5))
    assert first == bodies(fleet_of(seed=5)) != bodies(fleet_of(seed=6))
    assert json.loads(first[0] or b"")
