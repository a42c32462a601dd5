"""The simulated Patching and Login APIs, through real loopback HTTP."""

import concurrent.futures
import csv
import http.client
import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests
from processes import sigint_reaches_children

from reporter.cli import build_parser, main
from reporter.errors import UsageError
from reporter.simulator import FaultConfig, Fleet, SimulatorServer
from reporter.simulator import faults as faults_module
from reporter.simulator.cli import is_loopback, start_simulator
from reporter.simulator.faults import FaultInjector
from reporter.simulator.fleet import INVENTORY_COLUMNS

LOGIN = {"username": "demo", "password": "demo"}


def login(sim: SimulatorServer, session: requests.Session | None = None) -> str:
    response = (session or requests).post(sim.login_url, json=LOGIN, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["bearerToken"]


def detail_path(execution) -> str:
    return (
        f"/servers/{execution.account}/server/{execution.server_id}/patch/{execution.execution_id}"
    )


def get(sim, path, token=None, session=None, timeout=5.0) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return (session or requests).get(sim.api_url + path, headers=headers, timeout=timeout)


def raw_get(sim, path: str, token: str) -> tuple[int, bytes]:
    """A GET with the path exactly as written (requests would normalise dot segments)."""
    connection = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def normalised(payload: dict) -> dict:
    return {key.lower(): value for key, value in payload.items()}


# --- login ------------------------------------------------------------------------------


def test_login_returns_a_token_and_the_account(simulator):
    response = requests.post(simulator.login_url, json=LOGIN, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["userName"] == "demo" and body["accountAlias"] == "OSD"
    assert body["locationAlias"] == "VA1" and body["roles"]
    assert simulator.issued_tokens == [body["bearerToken"]]
    assert login(simulator) != body["bearerToken"]  # every login a fresh token


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"username": "demo", "password": "wrong"}),
        json.dumps({"username": "other", "password": "demo"}),
        json.dumps({"username": "demo"}),
        json.dumps(["demo", "demo"]),
        '{"username": "demo", "password": ',
        "",
    ],
)
def test_bad_login_is_400_with_a_message(simulator, body):
    response = requests.post(simulator.login_url, data=body, timeout=5)
    assert response.status_code == 400
    assert response.json()["message"]
    assert simulator.issued_tokens == []
    assert simulator.stats.snapshot()["login_failures"] == 1


def test_login_with_custom_credentials(sim_factory):
    sim = sim_factory(user="alice", password="s3cret!")
    assert requests.post(sim.login_url, json=LOGIN, timeout=5).status_code == 400
    ok = requests.post(sim.login_url, json={"username": "alice", "password": "s3cret!"}, timeout=5)
    assert ok.status_code == 200


# --- the two Patching endpoints ---------------------------------------------------------


def test_detail_serves_the_generated_payload(simulator):
    token = login(simulator)
    for execution in simulator.fleet.executions[:10]:
        response = get(simulator, detail_path(execution), token)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == simulator.fleet.detail_payload(execution)
        assert normalised(response.json())["execution_id"] == execution.execution_id


def test_summary_lists_the_servers_executions(simulator):
    token = login(simulator)
    server = simulator.fleet.servers[3]
    response = get(simulator, f"/servers/OSD/server/{server.server_id}/patch", token)
    assert response.status_code == 200
    entries = response.json()
    expected = simulator.fleet.server_executions("OSD", server.server_id)
    assert {entry["execution_id"] for entry in entries} == {e.execution_id for e in expected}
    for entry in entries:
        assert set(entry) == {"execution_id", "status", "start_time", "end_time", "init_messages"}
        (init,) = entry["init_messages"]
        assert init["init_end_message"].startswith(("Updates Downloaded", "No updates"))


def test_alias_matches_in_any_case(simulator):
    token = login(simulator)
    execution = simulator.fleet.executions[0]
    path = f"/servers/osd/server/{execution.server_id}/patch/{execution.execution_id}"
    assert get(simulator, path, token).status_code == 200
    assert get(simulator, f"/servers/oSd/server/{execution.server_id}/patch", token).ok
    key = ("OSD", execution.server_id, execution.execution_id)
    assert simulator.stats.snapshot()["by_execution"] == {key: 1}


def test_missing_unknown_or_revoked_tokens_are_401(simulator):
    execution = simulator.fleet.executions[0]
    path = detail_path(execution)
    token = login(simulator)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": token}):
        response = requests.get(simulator.api_url + path, headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json()["message"]
    assert get(simulator, path, token).status_code == 200
    simulator.revoke_tokens()
    assert get(simulator, path, token).status_code == 401


def test_unknown_server_execution_alias_or_path_is_404(simulator):
    token = login(simulator)
    execution = simulator.fleet.executions[0]
    server = execution.server_id
    for path in (
        f"/servers/OSD/server/VA1OSDNOPE99/patch/{execution.execution_id}",
        f"/servers/OSD/server/{server}/patch/VA1-000000",
        f"/servers/XYZ/server/{server}/patch/{execution.execution_id}",
        "/servers/OSD/server/VA1OSDNOPE99/patch",
        f"/servers/OSD/server/{server}/patch/{execution.execution_id}/extra",
        f"/servers/OSD/servers/{server}/patch",
    ):
        response = get(simulator, path, token)
        assert response.status_code == 404, path
        assert response.json()["message"]
    assert requests.get(simulator.base_url + "/elsewhere", timeout=5).status_code == 404


def test_path_segments_are_decoded_once_and_never_cross_routes(simulator):
    token = login(simulator)
    execution = simulator.fleet.executions[0]
    server, run = execution.server_id, execution.execution_id
    encoded_server = "%" + format(ord(server[0]), "02X") + server[1:]
    assert (
        raw_get(simulator, f"/rest/servers/OSD/server/{encoded_server}/patch/{run}", token)[0]
        == 200
    )
    for path in (
        f"/rest/servers/OSD/server/%25{format(ord(server[0]), '02X')}{server[1:]}/patch/{run}",
        f"/rest/servers/OSD/server/{server}%2Fpatch%2F{run}/patch",
        f"/rest/servers/OSD/server/{server}/../{server}/patch/{run}",
        f"/rest/servers/OSD/server/%2e%2e/patch/{run}",
        f"/rest/servers/OSD/server/{server}/patch/%FF",
        f"/rest/servers/OSD/server//patch/{run}",
    ):
        assert raw_get(simulator, path, token)[0] == 404, path


def test_wrong_methods_are_405(simulator):
    token = login(simulator)
    assert requests.get(simulator.login_url, timeout=5).status_code == 405
    response = requests.post(
        simulator.api_url + detail_path(simulator.fleet.executions[0]),
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


def test_override_serves_exact_bytes_even_for_unknown_executions(simulator):
    token = login(simulator)
    execution = simulator.fleet.executions[1]
    hostile = b'{"execution_id": "<script>alert(1)</script>", "patches": "=1+1"\xff'
    simulator.fleet.override("osd", execution.server_id, execution.execution_id, hostile)
    response = get(simulator, detail_path(execution), token)
    assert response.status_code == 200 and response.content == hostile
    simulator.fleet.override("OSD", "VA1OSDGHOST01", "VA1-000001", b"<html>", 502, "text/html")
    response = get(simulator, "/servers/OSD/server/VA1OSDGHOST01/patch/VA1-000001", token)
    assert response.status_code == 502 and response.content == b"<html>"
    assert response.headers["Content-Type"] == "text/html"


def test_stats_count_kinds_statuses_and_paths(simulator):
    token = login(simulator)
    execution = simulator.fleet.executions[0]
    get(simulator, detail_path(execution), token)
    get(simulator, detail_path(execution), token)
    get(simulator, f"/servers/OSD/server/{execution.server_id}/patch", token)
    get(simulator, "/servers/OSD/server/VA1OSDNOPE99/patch")
    stats = simulator.stats.snapshot()
    assert stats["requests"] == 5 and stats["logins"] == 1
    assert stats["by_kind"] == {"login": 1, "detail": 2, "summary": 2}
    assert stats["by_status"] == {200: 4, 401: 1}
    assert stats["paths"]["/rest" + detail_path(execution)] == 2


def test_keep_alive_serves_a_session_on_one_connection(simulator):
    # How fast it answers is a benchmark figure (benchmarks/bench_fetch.py), not a test.
    executions = simulator.fleet.executions
    with requests.Session() as session:
        token = login(simulator, session)
        for index in range(100):
            assert get(
                simulator, detail_path(executions[index % len(executions)]), token, session
            ).ok
    assert simulator.stats.snapshot()["connections"] == 1


def test_stop_closes_idle_keep_alive_connections(sim_factory):
    sim = sim_factory()
    with requests.Session() as session:
        login(sim, session)
        sim.stop()
        with pytest.raises(requests.ConnectionError):
            session.post(sim.login_url, json=LOGIN, timeout=2)
    assert not sim.running


# --- faults -----------------------------------------------------------------------------


def wait_for_requests(sim: SimulatorServer, count: int) -> None:
    """Return once the simulator has received ``count`` requests (it counts them on arrival)."""
    for _ in range(3000):  # 3000 x 10 ms: only a guard against a hang
        if sim.stats.requests >= count:
            return
        time.sleep(0.01)
    pytest.fail(f"only {sim.stats.requests} of {count} requests arrived")


def test_latency_delays_each_request_without_serialising_them(sim_factory):
    sim = sim_factory(faults=FaultConfig(latency_ms=3_600_000))  # an hour: answers wait for stop
    token = login(sim)
    path = detail_path(sim.fleet.executions[0])
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        waiting = [pool.submit(get, sim, path, token, timeout=120) for _ in range(8)]
        # All eight are in the server at once (none waits for another's delay to end), and
        # each is held back by the latency: none has its answer yet.
        wait_for_requests(sim, 1 + 8)  # the login, then the eight
        assert not any(future.done() for future in waiting)
        sim.stop()  # wakes the delayed requests; they end without an answer
        outcomes = [future.exception() for future in waiting]
    assert all(isinstance(outcome, requests.ConnectionError) for outcome in outcomes), outcomes
    assert sim.stats.snapshot()["by_kind"] == {"login": 1, "detail": 8}


def test_error_rate_answers_5xx_at_about_that_share(sim_factory):
    sim = sim_factory(faults=FaultConfig(error_rate=0.3, seed=3))
    token = login(sim)
    path = detail_path(sim.fleet.executions[0])
    with requests.Session() as session:
        statuses = Counter(get(sim, path, token, session).status_code for _ in range(200))
    errors = {status: n for status, n in statuses.items() if status != 200}
    assert set(errors) == {500, 502, 503, 504}
    assert 40 <= sum(errors.values()) <= 80
    assert sim.stats.snapshot()["faults"]["error"] == sum(errors.values())


def test_faults_leave_the_login_alone(sim_factory):
    faults = FaultConfig(error_rate=1.0, malformed_rate=1.0, hang_rate=1.0, rate_limit=1)
    sim = sim_factory(faults=faults)
    for _ in range(5):
        login(sim)  # each answered 200 within login()'s timeout: no hang, no 429, no error
    response = get(sim, detail_path(sim.fleet.executions[0]), sim.issued_tokens[0])
    assert response.status_code in (500, 502, 503, 504)


def test_rate_limit_answers_429_with_retry_after(sim_factory):
    sim = sim_factory(faults=FaultConfig(rate_limit=20))
    token = login(sim)
    path = detail_path(sim.fleet.executions[0])
    with requests.Session() as session:
        responses = [get(sim, path, token, session) for _ in range(100)]
    limited = [r for r in responses if r.status_code == 429]
    passed = len(responses) - len(limited)
    assert limited and all(r.headers["Retry-After"] == "1" for r in limited)
    assert limited[0].json()["message"]
    assert passed >= 20  # one second of burst, then what refills while they are sent
    assert len(sim.stats.snapshot()["rate_limited_at"]) == len(limited)


class FakeClock:
    """Stands in for the ``time`` module where only ``time.monotonic()`` is read."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_the_rate_limit_is_a_bucket_of_one_second_that_refills_at_the_rate(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(faults_module, "time", clock)
    injector = FaultInjector(FaultConfig(rate_limit=20))
    assert [injector.admit() for _ in range(21)] == [True] * 20 + [False]
    clock.now += 0.25  # five tokens back
    assert [injector.admit() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 60  # a long pause refills the bucket, no more
    assert sum(injector.admit() for _ in range(40)) == 20
    assert FaultInjector(FaultConfig()).admit()  # no rate limit: every request admitted


def test_malformed_rate_truncates_the_body(sim_factory):
    sim = sim_factory(faults=FaultConfig(malformed_rate=1.0))
    token = login(sim)
    execution = sim.fleet.executions[0]
    whole = sim.fleet.detail_bytes("OSD", execution.server_id, execution.execution_id)
    response = get(sim, detail_path(execution), token)
    assert response.status_code == 200
    assert 0 < len(response.content) < len(whole) and whole.startswith(response.content)
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_hang_outlasts_the_client_timeout_and_never_blocks_stop(sim_factory):
    sim = sim_factory(faults=FaultConfig(hang_rate=1.0, hang_seconds=3600))
    token = login(sim)
    with pytest.raises(requests.ReadTimeout):
        get(sim, detail_path(sim.fleet.executions[0]), token, timeout=0.3)
    stopper = threading.Thread(target=sim.stop)
    stopper.start()
    stopper.join(timeout=60)  # a stop that waited for the hang would take an hour
    assert not stopper.is_alive() and not sim.running


def test_a_short_hang_still_answers(sim_factory):
    sim = sim_factory(faults=FaultConfig(hang_rate=1.0, hang_seconds=0.05))
    token = login(sim)
    assert get(sim, detail_path(sim.fleet.executions[0]), token).status_code == 200
    assert sim.stats.snapshot()["faults"] == {"hang": 1}


def test_tokens_expire_after_n_requests_until_the_next_login(sim_factory):
    sim = sim_factory(faults=FaultConfig(token_ttl_requests=3))
    path = detail_path(sim.fleet.executions[0])
    token = login(sim)
    assert [get(sim, path, token).status_code for _ in range(5)] == [200, 200, 200, 401, 401]
    fresh = login(sim)
    assert get(sim, path, fresh).status_code == 200
    assert sim.stats.snapshot()["faults"]["token_expired"] == 1


@pytest.mark.parametrize(
    "settings",
    [{"error_rate": 1.5}, {"hang_rate": -0.1}, {"latency_ms": -1}, {"token_ttl_requests": -2}],
)
def test_fault_config_refuses_impossible_values(settings):
    with pytest.raises(ValueError):
        FaultConfig(**settings)


# --- the generated fleet ----------------------------------------------------------------


@pytest.fixture(scope="module")
def big_fleet() -> Fleet:
    return Fleet.generate(servers=300, executions_per_server=4, seed=2)


def test_same_seed_same_fleet_other_seed_other_fleet():
    def fingerprint(fleet: Fleet) -> tuple:
        bodies = [fleet.detail_bytes(*execution.key) for execution in fleet.executions]
        summaries = [fleet.summary_bytes("OSD", server.server_id) for server in fleet.servers]
        return fleet.inventory_csv(), bodies, summaries

    first, again = Fleet.generate(servers=30, seed=5), Fleet.generate(servers=30, seed=5)
    assert fingerprint(first) == fingerprint(again)
    assert fingerprint(first) != fingerprint(Fleet.generate(servers=30, seed=6))
    assert first.now == datetime(2026, 11, 20, tzinfo=UTC)


def test_ids_are_well_formed_and_unique(big_fleet):
    ids = [execution.execution_id for execution in big_fleet.executions]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Z]{2}\d-\d{6}", run) for run in ids)
    servers = [server.server_id for server in big_fleet.servers]
    assert len(set(servers)) == len(servers)
    assert all(re.fullmatch(r"[A-Z]{2}\d[A-Z0-9]+\d{2,}", server) for server in servers)
    for execution in big_fleet.executions:
        assert execution.execution_id[:3] == execution.server_id[:3]


def test_servers_carry_attributes_and_a_linux_share(big_fleet):
    oses = Counter(server.attributes["os"] for server in big_fleet.servers)
    assert {"Windows Server 2012 R2", "Windows Server 2022", "RHEL 8", "CentOS 7"} <= set(oses)
    linux = sum(n for name, n in oses.items() if not name.startswith("Windows"))
    assert 0.12 <= linux / len(big_fleet.servers) <= 0.28
    assert {s.attributes["environment"] for s in big_fleet.servers} == {"prod", "staging", "dev"}
    assert all(s.attributes["owner"] and s.attributes["business_unit"] for s in big_fleet.servers)


def test_payload_variants_appear_across_a_fleet(big_fleet):
    payloads = [big_fleet.detail_payload(execution) for execution in big_fleet.executions]
    assert any("Execution_id" in p and "Patches" in p for p in payloads)
    assert sum("execution_id" in p for p in payloads) > 0.6 * len(payloads)
    starts = {normalised(p)["start_time"] for p in payloads}
    shapes = {re.sub(r"\d", "9", start) for start in starts}
    assert {"9999-99-99T99:99:99Z", "9999-99-99T99:99:99+99:99", "9999-99-99 99:99:99"} <= shapes
    assert any(start.endswith("+00:00") for start in starts)
    assert any(re.fullmatch(r".*T.*[+-](?!00:00)\d\d:\d\d", start) for start in starts)
    statuses = {normalised(p)["status"] for p in payloads}
    assert {"completed", "COMPLETED", "Completed", "failed"} <= statuses
    assert statuses & {"in_progress", "IN_PROGRESS", "In_progress"}
    durations = {re.sub(r"\d+", "9", normalised(p).get("duration") or "-") for p in payloads}
    assert {"9m 9s", "9h 9m 9s", "9:9:9", "-"} <= durations
    counted = [p for p in payloads if isinstance(normalised(p)["patches"], int)]
    assert counted and all(normalised(p)["patches"] > 0 for p in counted)


def test_running_and_zero_patch_executions_exist(big_fleet):
    running = [e for e in big_fleet.executions if e.status in ("running", "pending")]
    assert 5 <= len(running) <= 15
    for execution in running:
        payload = normalised(big_fleet.detail_payload(execution))
        assert payload["end_time"] in ("", None)
        last = {key.lower(): value for key, value in payload["patches"][-1].items()}
        assert last["status"].lower() == "pending"
        assert last["patch_end_message"] == "" and last["end_time"] in ("", None)
    latest = {e.server_id: e for e in big_fleet.executions}
    assert all(latest[e.server_id] is e for e in running)
    zero = [e for e in big_fleet.executions if e.patch_count == 0]
    assert zero and all(e.status == "completed" for e in zero)
    assert 0.02 <= len(zero) / len(big_fleet.executions) <= 0.08


def test_results_are_realistic_and_consistent(big_fleet):
    codes: Counter[str] = Counter()
    forms = set()
    for execution in big_fleet.executions:
        finished = [p for p in execution.patches if p.end_message]
        for patch in finished:
            code = re.match(r"Result Code: (\d)", patch.end_message).group(1)
            codes[code] += 1
            assert patch.status == ("failed" if code in "045" else "completed")
            assert execution.start <= patch.start < patch.end
            assert execution.end is None or patch.end <= execution.end
            forms.add(re.sub(r"0x[0-9A-Fa-f]{8}|-?\d{7,}", "H", patch.end_message[14:]))
        if execution.status == "failed":
            assert execution.patches and all(p.status == "failed" for p in execution.patches)
    total = sum(codes.values())
    assert codes["2"] / total > 0.8
    assert 0.03 <= codes["3"] / total <= 0.08 and 0.03 <= codes["4"] / total <= 0.09
    assert codes["5"] and codes["0"]
    assert {", HResult: H", " HRESULT H", " (H)", " - H"} <= forms
    messages = {p.end_message for e in big_fleet.executions for p in e.patches}
    assert any(
        m.startswith(("Result Code: 2", "Result Code: 3")) and "0x00240005" in m for m in messages
    )


def test_titles_look_like_windows_updates_and_rpms(big_fleet):
    titles = {p.title for e in big_fleet.executions for p in e.patches}
    expected = [
        r"Installing Security Update for Windows Server 20\d\d( R2)? \(KB\d{7}\)",
        r".*\d{4}-\d\d Cumulative Update for Windows Server 2022 for x64-based Systems \(KB\d{7}\)",
        r".*Security Monthly Quality Rollup for Windows Server 2012 R2 .*\(KB\d{7}\)",
        r".*Servicing Stack Update for Windows Server 2019 .*",
        r".*Cumulative Update for \.NET Framework .*\(KB\d{7}\)",
        r".*Defender Antivirus - KB2267602 \((Version|Definition) 1\.\d+\.\d+\.0\)",
        r".*\(KB2961858\) sans KB2919355",
        r".*Service Pack.*",
        r"Installing: .*",
        r"(Installing )?kernel-\d[\w.]*-[\w.]+\.el[78][\w.]*\.x86_64",
        r"(Installing )?[a-z][\w+-]*-\d[\w.]*-[\w.]+\.(x86_64|noarch)",
    ]
    for pattern in expected:
        assert any(re.fullmatch(pattern, title) for title in titles), pattern
    assert any(not title.startswith("Installing") for title in titles)
    kbs = Counter(kb for title in titles for kb in re.findall(r"KB\d{7}", title))
    per_server = Counter(
        kb for e in big_fleet.executions for p in e.patches for kb in re.findall(r"KB\d+", p.title)
    )
    assert per_server.most_common(1)[0][1] > 50  # the same KB on many servers
    assert len(kbs) > 20


def test_some_failed_updates_succeed_later_and_some_keep_failing(big_fleet):
    recovered = stuck = 0
    for server in big_fleet.servers:
        last: dict[str, str] = {}
        seen_failed = set()
        for execution in big_fleet.server_executions("OSD", server.server_id):
            for patch in execution.patches:
                title = re.sub(r"^Installing:? ", "", patch.title)
                if patch.status == "completed" and title in seen_failed:
                    recovered += 1
                if patch.status == "failed":
                    seen_failed.add(title)
                if patch.status != "pending":
                    last[title] = patch.status
        stuck += "failed" in last.values()
    assert recovered >= 5
    assert stuck >= 5


def test_inventory_file_lists_every_execution_plus_discovery_and_unknown_rows(tmp_path, big_fleet):
    path = big_fleet.write_inventory(tmp_path / "sub" / "inventory.csv")
    data = path.read_bytes()
    assert data == big_fleet.inventory_csv().encode("utf-8") and b"\r" not in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert tuple(rows[0]) == INVENTORY_COLUMNS
    assert rows == big_fleet.inventory_rows()
    discovery = set(big_fleet.discovery_servers)
    assert discovery and {r["server_id"] for r in rows if not r["execution_id"]} == discovery
    listed = {(r["server_id"], r["execution_id"]) for r in rows}
    for execution in big_fleet.executions:
        wanted = (execution.server_id, execution.execution_id) in listed
        assert wanted == (execution.server_id not in discovery)
    unknown = big_fleet.unknown_executions
    assert 0.01 <= len(unknown) / len(rows) <= 0.03
    aliases = Counter(r["account_alias"] for r in rows)
    assert aliases["OSD"] > 0.8 * len(rows) and aliases[""] and aliases["osd"]


def test_unknown_inventory_rows_are_404_and_discovery_servers_have_a_summary(sim_factory):
    fleet = Fleet.generate(servers=30, executions_per_server=2, seed=4)
    sim = sim_factory(fleet)
    token = login(sim)
    server, run = fleet.unknown_executions[0]
    assert get(sim, f"/servers/OSD/server/{server}/patch/{run}", token).status_code == 404
    for server in fleet.discovery_servers:
        entries = get(sim, f"/servers/OSD/server/{server}/patch", token).json()
        assert len(entries) == 2


def test_ten_thousand_executions_generate_and_serve(sim_factory):
    # How long generating takes is a benchmark figure (benchmarks/bench_fetch.py).
    fleet = Fleet.generate(servers=2500, executions_per_server=4, seed=9)
    assert len(fleet.executions) == 10_000
    sim = sim_factory(fleet)
    with requests.Session() as session:
        token = login(sim, session)
        for execution in fleet.executions[-50:]:
            assert get(sim, detail_path(execution), token, session).ok


# --- reporter simulate ------------------------------------------------------------------


def simulate_args(*options: str):
    return build_parser().parse_args(["simulate", "--port", "0", *options])


def test_start_simulator_writes_the_inventory_and_prints_the_urls(tmp_path):
    inventory = tmp_path / "inventory.csv"
    out, err = io.StringIO(), io.StringIO()
    args = simulate_args(
        "--servers",
        "12",
        "--seed",
        "3",
        "--inventory",
        str(inventory),
        "--error-rate",
        "0.5",
        "--token-ttl-requests",
        "9",
    )
    sim = start_simulator(args, out, err)
    try:
        text = out.getvalue()
        assert sim.api_url in text and sim.login_url in text
        assert "CLC_USER=demo" in text and "errors 50%" in text and "after 9 requests" in text
        assert err.getvalue() == ""
        expected = Fleet.generate(servers=12, executions_per_server=4, seed=3).inventory_csv()
        assert inventory.read_text(encoding="utf-8") == expected
        assert requests.post(sim.login_url, json=LOGIN, timeout=5).status_code == 200
    finally:
        sim.stop()


@pytest.mark.parametrize(
    "options",
    [
        ["--error-rate", "1.5"],
        ["--malformed-rate", "-0.1"],
        ["--hang-rate", "2"],
        ["--latency-ms", "-5"],
        ["--rate-limit", "-1"],
        ["--token-ttl-requests", "-1"],
        ["--servers", "0"],
        ["--executions-per-server", "0"],
        ["--account", "O/SD"],
        ["--password", ""],
    ],
)
def test_start_simulator_refuses_bad_options(options):
    with pytest.raises(UsageError):
        start_simulator(simulate_args(*options), io.StringIO(), io.StringIO())


def test_start_simulator_reports_an_unwritable_inventory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write the inventory"):
        start_simulator(simulate_args("--inventory", str(blocker / "inv.csv")), io.StringIO())


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("127.9.9.9") and is_loopback("::1")
    assert is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0")  # noqa: S104 (only a string: nothing binds)
    assert not is_loopback("10.0.0.1")
    assert not is_loopback("example.com")


def test_reporter_simulate_serves_until_ctrl_c(tmp_path):
    # A separate process is the point: Ctrl-C reaches the command as it does in a terminal.
    with sigint_reaches_children():
        process = subprocess.Popen(
            [sys.executable, "-m", "reporter", "simulate", "--port", "0", "--servers", "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
    try:
        lines = []
        while not lines or not lines[-1].startswith("press Ctrl-C"):
            line = process.stdout.readline()
            assert line, process.stderr.read()
            lines.append(line)
        login_url = next(line.split()[-1] for line in lines if line.startswith("Login API:"))
        assert requests.post(login_url, json=LOGIN, timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        # Stopping takes a fraction of a second; the timeout only keeps a lost signal from
        # hanging the suite.
        rest, errors = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, errors
    assert "stopping the simulator" in rest


def test_the_banner_says_which_months_hold_data_and_how_to_report_them(
    tmp_path, monkeypatch, capsys
):
    inventory = tmp_path / "inventory.csv"
    out = io.StringIO()
    sim = start_simulator(simulate_args("--servers", "6", "--inventory", str(inventory)), out)
    try:
        lines = out.getvalue().splitlines()
        data = next(line for line in lines if line.startswith("data:"))
        months = ["2026-08", "2026-09", "2026-10", "2026-11"]
        assert data.split(None, 1)[1].startswith(f"executions started in {', '.join(months)}")
        command = next(line for line in lines if line.startswith("report it:"))
        argv = command.split(None, 2)[2].split("  (")[0].split()
        assert argv[:2] == ["reporter", "run"] and "--period" in argv
        # The command works as printed, with the variables the banner says to export.
        exports = next(line for line in lines if line.startswith("credentials:"))
        for assignment in exports.split()[2:]:
            name, _, value = assignment.partition("=")
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        assert main([*argv[1:], "--format", "csv", "--no-history"]) in (0, 3)
        [report] = (tmp_path / "reports").glob("patch-compliance-2026-11.csv")
        assert len(report.read_text(encoding="utf-8").splitlines()) > 1
    finally:
        sim.stop()
    # --help says it too, for the default fleet.
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "2026-08 to 2026-11 with the default 4 per server" in help_text
    assert "--period 2026-11" in help_text
