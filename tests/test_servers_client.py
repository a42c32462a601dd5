"""The servers API client (SPEC 1a): listings, server records, evidence, resume, hostile answers."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reporter.account import AccountListing, ListedServer, ServerRecord, inventory_csv
from reporter.errors import AuthenticationError
from reporter.fetch import (
    ArchiveServers,
    ArchiveSource,
    Credentials,
    EvidenceStore,
    PatchingClient,
    fetch_records,
    list_account,
)
from reporter.fetch.contract import Body, Failure
from reporter.fetch.servers import NetworkServers
from reporter.fetch.servers_contract import (
    ServersRequest,
    datacenter_request,
    group_request,
    read_group,
    server_record,
    server_request,
)
from reporter.fetch.state import FetchState
from reporter.inventory import load_inventory
from reporter.problems import NOT_FOUND, FailureKind
from reporter.simulator import FaultConfig, Fleet

DEMO = Credentials("demo", "demo")


def no_sleep(seconds: float) -> None:
    """Backoff without waiting."""


def fleet_of(servers: int = 20, seed: int = 7) -> Fleet:
    return Fleet.generate(servers=servers, executions_per_server=2, seed=seed)


def servers_api(sim, evidence: EvidenceStore | None = None, **options) -> NetworkServers:
    options.setdefault("sleep", no_sleep)
    client = PatchingClient(sim.api_url, sim.login_url, DEMO, evidence=evidence, **options)
    client.login()
    return client.servers_api(sim.servers_api_url)


def requests_by_kind(sim) -> dict[str, int]:
    return sim.stats.snapshot()["by_kind"]


def test_a_listing_names_every_server_where_it_is_in_a_few_requests(sim_factory):
    fleet = fleet_of()
    sim = sim_factory(fleet)
    listing = list_account(servers_api(sim), "osd")
    assert isinstance(listing, AccountListing) and listing.account_alias == "OSD"
    assert listing.notes == ()
    by_id = {server.server_id: server for server in listing.servers}
    assert sorted(s.server_id for s in listing.active()) == sorted(
        s.server_id for s in fleet.active_servers
    )
    for server in fleet.active_servers:
        assert by_id[server.server_id].group == fleet.directory.group_path(server.server_id)
        assert by_id[server.server_id].data_center == server.datacenter
    for server in fleet.archived_servers:
        assert by_id[server.server_id].group_type == "archive"
        assert not by_id[server.server_id].active
    count = len(listing.data_centers)  # a few requests per data center, none per server
    expected = {"login": 1, "datacenters": 1, "datacenter": count, "group": count}
    assert requests_by_kind(sim) == expected


def test_records_carry_attributes_and_custom_fields_in_either_place(sim_factory):
    fleet = fleet_of(servers=60, seed=2026)
    sim = sim_factory(fleet)
    source = servers_api(sim, concurrency=4)
    listing = list_account(source, "OSD")
    assert isinstance(listing, AccountListing)
    records, problems = fetch_records(source, listing.servers)
    assert problems == [] and len(records) == len(listing.servers)
    expected = {s.server_id: s for s in [*fleet.active_servers, *fleet.archived_servers]}
    for record in records:
        server = expected[record.listed.server_id]
        assert record.status == server.status and record.power_state == server.power_state
        assert record.os_type and record.os and record.description
        assert [name for name, _ in record.custom_fields] == ["Cost Center", "CMDB ID"]
        assert all(value for _, value in record.custom_fields)
    assert {r.active for r in records} == {True, False}
    assert requests_by_kind(sim)["server"] == len(records)


def test_bodies_are_evidence_and_a_resumed_run_reuses_recent_records(sim_factory, tmp_path):
    fleet = fleet_of()
    sim = sim_factory(fleet)
    with EvidenceStore(tmp_path / "evidence") as evidence:
        source = servers_api(sim, evidence)
        listing = list_account(source, "OSD")
        assert isinstance(listing, AccountListing)
        first, _ = fetch_records(source, listing.servers)
    manifest = json.loads((tmp_path / "evidence" / "manifest.json").read_bytes())
    kinds = {entry["kind"] for entry in manifest["entries"]}
    assert kinds == {"datacenters", "datacenter", "group", "server"}
    assert all(entry["path"].startswith("OSD/_account/") for entry in manifest["entries"])
    assert all(entry["url"].startswith(sim.servers_api_url) for entry in manifest["entries"])
    asked = requests_by_kind(sim)["server"]

    with EvidenceStore(tmp_path / "evidence") as evidence:
        again, _ = fetch_records(servers_api(sim, evidence), listing.servers)
    assert again == first and requests_by_kind(sim)["server"] == asked  # all reused

    with EvidenceStore(tmp_path / "evidence") as evidence:
        later = servers_api(sim, evidence)
        later._clock = lambda: datetime.now(UTC) + timedelta(days=2)
        fetch_records(later, listing.servers)
    assert requests_by_kind(sim)["server"] == 2 * asked  # too old to stand for today's


def test_an_archive_gives_the_same_listing_and_records(sim_factory, tmp_path):
    sim = sim_factory(fleet_of())
    with EvidenceStore(tmp_path / "evidence") as evidence:
        source = servers_api(sim, evidence)
        online = list_account(source, "OSD")
        assert isinstance(online, AccountListing)
        records, _ = fetch_records(source, online.active())
    before = sim.stats.requests
    offline_source = ArchiveServers(ArchiveSource.open(tmp_path))
    assert list_account(offline_source, "OSD") == online
    assert fetch_records(offline_source, online.active()) == (records, [])
    assert sim.stats.requests == before
    missing = list_account(offline_source, "OTHER")
    assert isinstance(missing, Failure) and missing.kind is FailureKind.MISSING_EVIDENCE


def test_a_login_without_the_role_gets_a_failure_not_an_exception(sim_factory):
    sim = sim_factory(fleet_of(), servers_api=False)
    listing = list_account(servers_api(sim), "OSD")
    assert isinstance(listing, Failure) and listing.kind is FailureKind.FORBIDDEN
    assert "HTTP 403" in listing.reason and "account OSD" in listing.reason


def test_the_listing_survives_faults_and_expiring_tokens(sim_factory):
    fleet = fleet_of()
    clean = list_account(servers_api(sim_factory(fleet)), "OSD")
    faults = FaultConfig(error_rate=0.3, malformed_rate=0.1, token_ttl_requests=15, seed=4)
    sim = sim_factory(fleet_of(), faults)
    source = servers_api(sim, retries=10, concurrency=4)
    assert list_account(source, "OSD") == clean
    listed = clean.servers if isinstance(clean, AccountListing) else ()
    records, problems = fetch_records(source, listed)
    assert problems == [] and len(records) == len(listed)
    stats = sim.stats.snapshot()
    assert stats["faults"]["error"] and stats["faults"]["token_expired"]
    assert stats["logins"] >= 2  # re-logins after 401s, through the patch client's keeper


def test_a_server_that_went_away_is_a_problem(sim_factory):
    sim = sim_factory(fleet_of())
    listing = list_account(servers_api(sim), "OSD")
    assert isinstance(listing, AccountListing)
    gone = ListedServer("OSD", "VA1OSDGONE01", "VA1", "VA1 Hardware/Web/Prod")
    records, [problem] = fetch_records(servers_api(sim), [gone, *listing.servers[:2]])
    assert len(records) == 2 and problem.kind == NOT_FOUND
    assert problem.server_id == "VA1OSDGONE01" and "server record" in problem.reason


# --- hostile and unusual answers, read as plain values ---------------------------------------


class Answers:
    """A servers source that answers from a dict of path -> payload (anything else: 404)."""

    workers = 0

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def answer(self, request: ServersRequest, state: FetchState) -> Body | Failure:
        self.asked.append(request.path)
        if request.path not in self.answers:
            return Failure(FailureKind.NOT_FOUND, "not found (HTTP 404)")
        return Body(self.answers[request.path], "http://127.0.0.1/v2" + request.path, NOW)


NOW = datetime(2026, 11, 26, tzinfo=UTC)
ROOT = "a" * 32


def server_link(server_id: Any, href: str | None = None) -> dict:
    link = {"rel": "server", "href": href or f"/v2/servers/osd/{str(server_id).lower()}"}
    if server_id is not None:
        link["id"] = server_id
    return link


def test_hrefs_are_never_followed_and_bad_ids_are_skipped_with_a_note():
    group = {
        "id": ROOT,
        "name": "VA1 Hardware",
        "type": "default",
        "links": [
            server_link("VA1OSDWEB01", href="https://attacker.invalid/steal"),
            server_link(None, href="/v2/servers/osd/va1osdweb02"),  # no id: the href's last part
            server_link("../../datacenters/OSD"),
            server_link(None, href="/v2/servers/osd/a%2Fb"),
            server_link({"nested": "object"}),
        ],
        "groups": [],
    }
    walk = read_group(group, "OSD", "VA1")
    assert [s.server_id for s in walk.servers] == ["VA1OSDWEB01", "VA1OSDWEB02"]
    assert len(walk.notes) == 3 and all("unusable server ID" in note for note in walk.notes)
    with pytest.raises(ValueError, match="server ID"):
        server_request("OSD", "../x")
    with pytest.raises(ValueError, match="group ID"):
        group_request("OSD", "a/b")
    with pytest.raises(ValueError, match="data center"):
        datacenter_request("OSD", "VA1?x=1")
    assert group_request("OSD", ROOT.upper()).path == f"/groups/OSD/{ROOT}"


def test_keys_in_any_case_nested_groups_fetched_by_id_and_types_inherited():
    nested = "b" * 32
    answers = {
        "/datacenters/OSD": {"items": [{"ID": "va1"}, {"id": "../x"}]},
        "/datacenters/OSD/VA1?groupLinks=true": {
            "Links": [{"Rel": "GROUP", "Href": f"/v2/groups/osd/{ROOT}"}]
        },
        f"/groups/OSD/{ROOT}": {
            "Name": "VA1 Hardware",
            "Groups": [
                {"id": nested, "name": "Web"},  # given without contents: fetched by its ID
                {
                    "name": "Archive",
                    "type": "archive",
                    "groups": [{"name": "Old", "type": "default", "links": [server_link("A1")]}],
                    "links": [server_link("A2")],
                },
            ],
            "Links": [server_link("ROOT1")],
        },
        f"/groups/OSD/{nested}": {"name": "Web", "links": [server_link("W1")], "groups": []},
    }
    source = Answers(answers)
    listing = list_account(source, "OSD")
    assert isinstance(listing, AccountListing)
    assert listing.data_centers == ("VA1",) and len(listing.notes) == 1
    found = {s.server_id: (s.group, s.group_type) for s in listing.servers}
    assert found == {
        "ROOT1": ("VA1 Hardware", "default"),
        "W1": ("VA1 Hardware/Web", "default"),
        "A2": ("VA1 Hardware/Archive", "archive"),
        "A1": ("VA1 Hardware/Archive/Old", "archive"),  # inside an archive group: not active
    }
    assert [s.server_id for s in listing.active()] == ["ROOT1", "W1"]


@pytest.mark.parametrize(
    ("answers", "kind"),
    [
        ({"/datacenters/OSD": {"not": "a list"}}, FailureKind.UNEXPECTED_JSON),
        ({"/datacenters/OSD": [{"id": "VA1"}]}, FailureKind.NOT_FOUND),
        (
            {"/datacenters/OSD": [{"id": "VA1"}], "/datacenters/OSD/VA1?groupLinks=true": {}},
            FailureKind.UNEXPECTED_JSON,
        ),
    ],
    ids=["not a list", "data center 404", "no root group"],
)
def test_an_unusable_listing_is_a_failure(answers, kind):
    failure = list_account(Answers(answers), "OSD")
    assert isinstance(failure, Failure) and failure.kind is kind


def test_deep_and_cyclic_groups_are_bounded():
    deep: dict = {"name": "leaf", "links": [server_link("DEEP1")], "groups": []}
    for level in range(200):
        deep = {"name": f"g{level}", "groups": [deep], "links": []}
    walk = read_group({"id": ROOT, "name": "root", **deep}, "OSD", "VA1")
    assert walk.servers == [] and any("nested more than" in note for note in walk.notes)
    looping = {
        "/datacenters/OSD": [{"id": "VA1"}],
        "/datacenters/OSD/VA1?groupLinks=true": {"links": [{"rel": "group", "id": ROOT}]},
        f"/groups/OSD/{ROOT}": {"name": "root", "groups": [{"id": ROOT}], "links": []},
    }
    source = Answers(looping)
    listing = list_account(source, "OSD")
    assert isinstance(listing, AccountListing) and listing.servers == ()
    assert source.asked.count(f"/groups/OSD/{ROOT}") == 1


def test_a_record_of_any_shape_reads_or_is_a_problem():
    listed = read_group({"name": "VA1 Hardware", "links": [server_link("S1")]}, "OSD", "VA1")
    server = listed.servers[0]
    record = server_record(
        server,
        {
            "OSTYPE": "RedHat Enterprise Linux 8 64-bit",
            "Details": {"PowerState": "stopped", "customFields": [{"name": "Owner", "value": 7}]},
            "customFields": [{"id": "f1", "value": "x", "displayValue": "Shown"}],
        },
    )
    assert record.status == "active"  # none given: what the listing says
    assert record.os_type == "RedHat Enterprise Linux 8 64-bit" and record.power_state == "stopped"
    assert record.custom_fields == (("f1", "Shown"), ("Owner", "7"))
    with pytest.raises(ValueError):
        server_record(server, ["not", "a", "record"])
    source = Answers({"/servers/OSD/S1": "text"})
    records, [problem] = fetch_records(source, [server])
    assert records == [] and problem.cause is FailureKind.UNEXPECTED_JSON


def test_an_inventory_written_from_records_is_formula_safe_and_reads_back(tmp_path: Path):
    listed = read_group(
        {"name": "VA1 Hardware", "links": [server_link("S1"), server_link("S2")]}, "OSD", "VA1"
    ).servers
    records = [
        ServerRecord(
            listed[0],
            os_type="=cmd|' /C calc'!A0",
            status="active",
            description="line one\nline two, with a comma",
            custom_fields=(("Status", "@SUM(1)"), ("Server", "s"), ("Cost Center", "-1")),
        ),
        ServerRecord(listed[1], status="active", custom_fields=(("Cost Center", "CC-1"),)),
    ]
    path = tmp_path / "servers.csv"
    path.write_bytes(inventory_csv(records))
    inventory = load_inventory(path)
    assert inventory.problems == [] and [row.server_id for row in inventory.rows] == ["S1", "S2"]
    assert inventory.attribute_columns[-3:] == [
        "Cost Center",
        "Server (custom field)",
        "Status (custom field)",
    ]
    first = inventory.rows[0].attributes
    assert first["os_type"] == "'=cmd|' /C calc'!A0"
    assert first["Status (custom field)"] == "'@SUM(1)" and first["Cost Center"] == "'-1"
    assert first["description"] == "line one\nline two, with a comma"
    assert inventory.rows[1].attributes["Server (custom field)"] == ""


def test_a_refused_token_stops_the_listing(sim_factory):
    sim = sim_factory(fleet_of())
    servers_api(sim)  # a login, for a token
    client = PatchingClient(
        sim.api_url, sim.login_url, Credentials(token=sim.issued_tokens[0]), sleep=no_sleep
    )
    sim.revoke_tokens()  # and a token from the environment cannot be renewed
    with pytest.raises(AuthenticationError):
        list_account(client.servers_api(sim.servers_api_url), "OSD")
