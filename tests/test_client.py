"""The Patching API client against the simulator on loopback: login, fetch, faults, auth, IDs."""

import io
import json
import logging
import socket
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
import requests

from reporter.errors import (
    ApiUnreachableError,
    AuthenticationError,
    InsecureUrlError,
    UsageError,
)
from reporter.fetch import (
    Credentials,
    FetchResult,
    LoginInfo,
    PatchingClient,
    Progress,
    check_url,
    credentials_from_env,
)
from reporter.fetch.transport import parse_retry_after
from reporter.logs import redact
from reporter.problems import (
    DUPLICATE_ROW,
    FETCH_FAILED,
    FORBIDDEN,
    INVALID_ROW,
    NO_EXECUTIONS,
    NOT_FOUND,
    NOT_JSON,
)
from reporter.records import FetchedExecution, Period, Target
from reporter.simulator import FaultConfig, Fleet

DEMO = Credentials("demo", "demo")


def no_sleep(seconds: float) -> None:
    """Backoff without waiting, so fault tests stay fast."""


def client_for(sim, credentials=DEMO, **options) -> PatchingClient:
    options.setdefault("sleep", no_sleep)
    return PatchingClient(sim.api_url, sim.login_url, credentials, **options)


def explicit_targets(executions, first_line: int = 2) -> list[Target]:
    return [
        Target(execution.account, execution.server_id, execution.execution_id, line)
        for line, execution in enumerate(executions, start=first_line)
    ]


def expected_payload(fleet: Fleet, execution) -> dict:
    return json.loads(
        fleet.detail_bytes(execution.account, execution.server_id, execution.execution_id)
    )


def closed_port_url(path: str) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def fetched_ids(result: FetchResult) -> list[str]:
    return sorted(execution.execution_id for execution in result.executions)


# --- URLs and credentials -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://patching.useast.appfog.ctl.io/rest/",
            "https://patching.useast.appfog.ctl.io/rest",
        ),
        ("http://127.0.0.1:8080/rest", "http://127.0.0.1:8080/rest"),
        ("http://127.9.9.9/rest", "http://127.9.9.9/rest"),
        ("http://localhost:1/x/", "http://localhost:1/x"),
        ("http://[::1]:8080/rest", "http://[::1]:8080/rest"),
    ],
)
def test_check_url_accepts_https_and_loopback_http(url, expected):
    assert check_url(url, "API URL") == expected


@pytest.mark.parametrize(
    "url", ["http://api.ctl.io/v2/authentication/login", "http://10.0.0.1/rest", "http://[::2]/"]
)
def test_check_url_refuses_plain_http_elsewhere(url):
    with pytest.raises(InsecureUrlError, match="use https://"):
        check_url(url, "login URL")


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "not a url", "https://", "https://user:pw@host/rest", "http://h:99999/"]
)
def test_check_url_rejects_unusable_urls(url):
    with pytest.raises(UsageError):
        check_url(url, "API URL")


def test_client_refuses_plain_http_to_a_remote_host_before_any_request(simulator):
    with pytest.raises(InsecureUrlError):
        PatchingClient("http://patching.example.com/rest", simulator.login_url, DEMO)
    assert simulator.stats.requests == 0


def test_credentials_from_env_variants():
    clc = credentials_from_env({"CLC_USER": "jdoe", "CLC_PASSWORD": "pw-one-1"})
    assert (clc.username, clc.password, clc.token) == ("jdoe", "pw-one-1", None)
    v2 = credentials_from_env({"CLC_V2_API_USERNAME": "jdoe", "CLC_V2_API_PASSWD": "pw-two-2"})
    assert (v2.username, v2.password) == ("jdoe", "pw-two-2")
    token = credentials_from_env({"CLC_BEARER_TOKEN": "tok-en-3"})
    assert (token.token, token.can_login) == ("tok-en-3", False)
    both = credentials_from_env(
        {"CLC_USER": "a", "CLC_PASSWORD": "pw-one-1", "CLC_BEARER_TOKEN": "tok-en-3"}
    )
    assert both.username == "a" and both.token is None
    # Registered as secrets: the log redacts them from now on.
    assert redact("x pw-one-1 pw-two-2 tok-en-3 y") == "x *** *** *** y"
    for credentials in (clc, v2, token):
        for text in (repr(credentials), str(credentials)):
            assert "pw-" not in text and "tok-en" not in text


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "CLC_USER and CLC_PASSWORD"),
        ({"CLC_USER": "jdoe"}, "CLC_PASSWORD is not set"),
        ({"CLC_V2_API_PASSWD": "pw"}, "CLC_V2_API_USERNAME is not set"),
        ({"CLC_BEARER_TOKEN": "  "}, "CLC_BEARER_TOKEN"),
    ],
)
def test_missing_credentials_say_what_to_set(env, says):
    with pytest.raises(AuthenticationError, match=says):
        credentials_from_env(env)


# --- login ----------------------------------------------------------------------------------


def test_login_returns_who_we_are(simulator):
    info = client_for(simulator).login()
    assert info == LoginInfo(user="demo", account_alias="OSD", location_alias="VA1")
    assert simulator.stats.logins == 1


def test_login_with_bad_credentials_shows_the_api_message(simulator):
    client = client_for(simulator, Credentials("demo", "wrong-password"))
    with pytest.raises(AuthenticationError) as caught:
        client.login()
    message = str(caught.value)
    assert "didn't recognize the username or password" in message
    assert "wrong-password" not in message
    assert simulator.stats.snapshot()["login_failures"] == 1  # never retried


def test_login_to_a_closed_port_is_one_clear_line():
    url = closed_port_url("/v2/authentication/login")
    client = PatchingClient(
        closed_port_url("/rest"), url, DEMO, retries=2, sleep=no_sleep, timeout=2
    )
    with pytest.raises(ApiUnreachableError) as caught:
        client.login()
    message = str(caught.value)
    assert message == f"cannot reach the Login API at {url}: connection refused"
    assert "\n" not in message and "Traceback" not in message


def test_tls_is_verified_and_its_failure_named(simulator):
    # The simulator speaks plain HTTP: an https client must fail the handshake, not fall back.
    api_url = simulator.api_url.replace("http://", "https://")
    login_url = simulator.login_url.replace("http://", "https://")
    client = PatchingClient(api_url, login_url, DEMO, retries=0, sleep=no_sleep)
    with pytest.raises(ApiUnreachableError, match="connection failed: TLS error"):
        client.login()
    token = PatchingClient(api_url, login_url, Credentials(token="t0k3n"), retries=0)
    result = token.fetch(explicit_targets(simulator.fleet.executions[:1]))
    assert result.problems[0].reason == "gave up after 1 attempt: connection failed: TLS error"


def test_bearer_token_needs_no_login_and_fetches(simulator):
    token = requests.post(
        simulator.login_url, json={"username": "demo", "password": "demo"}, timeout=5
    ).json()["bearerToken"]
    client = client_for(simulator, credentials_from_env({"CLC_BEARER_TOKEN": token}))
    before = simulator.stats.requests
    assert client.login() == LoginInfo(None, None, None)
    assert simulator.stats.requests == before
    execution = simulator.fleet.executions[0]
    result = client.fetch(explicit_targets([execution]))
    assert fetched_ids(result) == [execution.execution_id]


def test_refused_bearer_token_stops_the_run(simulator):
    client = client_for(simulator, credentials_from_env({"CLC_BEARER_TOKEN": "bogus-token"}))
    with pytest.raises(AuthenticationError, match="CLC_BEARER_TOKEN"):
        client.fetch(explicit_targets(simulator.fleet.executions[:10]))
    assert simulator.stats.logins == 0


# --- what a fetch returns -----------------------------------------------------------------


def test_every_target_ends_in_exactly_one_place(sim_factory):
    fleet = Fleet.generate(servers=12, executions_per_server=3, seed=11)
    sim = sim_factory(fleet)
    servers = sorted({execution.server_id for execution in fleet.executions})
    listed = [e for e in fleet.executions if e.server_id not in servers[:2]]
    targets = explicit_targets(listed)
    line = len(targets) + 2
    extra = [
        Target("OSD", servers[0], None, line),  # discovery: the latest execution
        Target(
            "OSD",
            servers[1],
            None,
            line + 1,
        ),
        Target("OSD", listed[0].server_id, "VA1-999999", line + 2),  # unknown: 404
        Target("OSD", "NOSUCHSERVER", None, line + 3),  # unknown server
        Target("OSD", "../../v2", "VA1-1", line + 4),
        Target("OSD", listed[0].server_id, "%2e%2e", line + 5),
        Target("O/SD", listed[0].server_id, "VA1-1", line + 6),
        Target(listed[1].account, listed[1].server_id, listed[1].execution_id, line + 7),
        Target("OSD", listed[2].server_id, None, line + 8),  # its latest is listed already
        Target("OSD", servers[0].lower(), None, line + 9),  # the server of line + 0 again
    ]
    result = client_for(sim).fetch(targets + extra, period=None)

    outcomes = defaultdict(list)
    for item in [*result.executions, *result.problems]:
        outcomes[item.line].append(item)
    assert set(outcomes) == {target.line for target in targets + extra}
    for target in targets + extra:
        assert len(outcomes[target.line]) == 1, target
    for execution, target in zip(listed, targets, strict=True):
        (fetched,) = outcomes[target.line]
        assert isinstance(fetched, FetchedExecution) and not fetched.discovered
        assert fetched.execution_id == execution.execution_id
        assert fetched.payload == expected_payload(fleet, execution)
        path = f"/servers/OSD/server/{execution.server_id}/patch/{execution.execution_id}"
        assert fetched.url == sim.api_url + path
    for server, target in zip(servers[:2], extra[:2], strict=True):
        (found,) = outcomes[target.line]
        latest = max(fleet.server_executions("OSD", server), key=lambda e: e.start)
        assert found.discovered and found.execution_id == latest.execution_id
    kinds = [outcomes[target.line][0].kind for target in extra[2:]]
    assert kinds == [
        NOT_FOUND,
        NOT_FOUND,
        INVALID_ROW,
        INVALID_ROW,
        INVALID_ROW,
        DUPLICATE_ROW,
        DUPLICATE_ROW,
        DUPLICATE_ROW,
    ]
    assert (
        outcomes[line + 2][0].reason == "execution not found (HTTP 404: Patch execution not found.)"
    )
    assert outcomes[line + 3][0].reason == "server not found (HTTP 404: Server not found.)"
    assert outcomes[line + 7][0].reason == f"the same execution is listed on line {targets[1].line}"
    assert outcomes[line + 9][0].reason == (
        f"the same server (without an execution ID) is listed on line {line}"
    )
    assert sim.stats.snapshot()["by_kind"]["summary"] == 4  # not 5: the repeat is not fetched
    assert result.stats.requests == sim.stats.snapshot()["by_kind"].get(
        "detail", 0
    ) + sim.stats.snapshot()["by_kind"].get("summary", 0)


def test_invalid_ids_never_reach_the_server(simulator):
    server = simulator.fleet.executions[0].server_id
    hostile = [
        "../x",
        "a/b",
        "%2e%2e",
        "x?y=1",
        "x#frag",
        "..",
        "VA1-1/../..",
        "VA1-1\n",
        "",
        " VA1-1",
    ]
    targets = [Target("OSD", value, None, 1) for value in hostile]
    targets += [Target("OSD", server, value, 2) for value in hostile]
    targets += [Target(value, server, "VA1-1", 3) for value in hostile]
    result = client_for(simulator).fetch(targets)
    assert result.executions == []
    assert [problem.kind for problem in result.problems] == [INVALID_ROW] * len(targets)
    assert simulator.stats.requests == 0


def test_an_encoded_id_stays_one_path_segment(simulator):
    # Even past validation (defence in depth), a segment cannot climb or split the path.
    from reporter.fetch.contract import detail_path

    with pytest.raises(ValueError):
        detail_path("OSD", "../x", "VA1-1")
    client = client_for(simulator)
    client.fetch(explicit_targets(simulator.fleet.executions[:3]))
    paths = [path for path in simulator.stats.snapshot()["paths"] if path.startswith("/rest")]
    assert len(paths) == 3
    assert all(path.startswith("/rest/servers/OSD/server/") for path in paths)
    assert not any(".." in path or "%2F" in path.upper() or "?" in path for path in paths)


def test_discovery_with_a_period_reports_every_execution_that_started_in_it(sim_factory):
    fleet = Fleet.generate(servers=6, executions_per_server=6, seed=3)
    sim = sim_factory(fleet)
    server = fleet.executions[0].server_id
    executions = fleet.server_executions("OSD", server)
    period = Period(executions[-1].start.year, executions[-1].start.month)
    expected = sorted(e.execution_id for e in executions if period.contains(e.start))
    empty = Period(2001, 1)

    result = client_for(sim).fetch([Target("OSD", server, None, 7)], period)
    assert fetched_ids(result) == expected and expected
    assert all(e.discovered and e.line == 7 for e in result.executions)
    nothing = client_for(sim).fetch([Target("OSD", server, None, 7)], empty)
    assert nothing.executions == []
    (problem,) = nothing.problems
    assert (problem.kind, problem.reason, problem.line) == (
        NO_EXECUTIONS,
        "no executions in 2001-01",
        7,
    )


def test_status_errors_are_final_and_readable(simulator):
    fleet = simulator.fleet
    cases = {
        "VA1-400": (
            400,
            b'{"message": "Bad request: nope"}',
            FETCH_FAILED,
            "the API rejected the request (HTTP 400: Bad request: nope)",
        ),
        "VA1-403": (
            403,
            b'{"Message": "Not your account"}',
            FORBIDDEN,
            "access denied (HTTP 403: Not your account)",
        ),
        "VA1-404": (404, b"<html>gone</html>", NOT_FOUND, "execution not found (HTTP 404)"),
    }
    for execution_id, (status, body, _, _) in cases.items():
        fleet.override("OSD", "VA1OSDWEB01", execution_id, body, status=status)
    targets = [Target("OSD", "VA1OSDWEB01", execution_id, 5) for execution_id in cases]
    result = client_for(simulator).fetch(targets)
    assert [(p.kind, p.reason) for p in result.problems] == [
        (kind, reason) for _, _, kind, reason in cases.values()
    ]
    counts = simulator.stats.snapshot()["by_execution"]
    assert all(counts[("OSD", "VA1OSDWEB01", execution_id)] == 1 for execution_id in cases)


def test_permanent_failures_give_up_after_the_retries(sim_factory):
    fleet = Fleet.generate(servers=2, executions_per_server=1, seed=5)
    fleet.override("OSD", "VA1OSDWEB01", "VA1-503", b'{"message":"down"}', status=503)
    fleet.override("OSD", "VA1OSDWEB01", "VA1-200", b'{"execution_id": "VA1-200", "sta')
    sim = sim_factory(fleet)
    targets = [
        Target("OSD", "VA1OSDWEB01", "VA1-503", 2),
        Target("OSD", "VA1OSDWEB01", "VA1-200", 3),
    ]
    result = client_for(sim, retries=5).fetch(targets)
    assert [(p.kind, p.reason) for p in result.problems] == [
        (FETCH_FAILED, "gave up after 6 attempts: HTTP 503"),
        (NOT_JSON, "not JSON after 6 attempts: first bytes b'{\"execution_id\":'..."),
    ]
    assert result.stats.requests == 12 and result.stats.retries == 10

    refused = PatchingClient(
        closed_port_url("/rest"), sim.login_url, DEMO, retries=1, sleep=no_sleep
    )
    outcome = refused.fetch(targets[:1])
    assert outcome.problems[0].reason == "gave up after 2 attempts: connection refused"


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        FaultConfig(error_rate=0.3, seed=2),
        FaultConfig(malformed_rate=0.3, seed=3),
        FaultConfig(hang_rate=0.15, hang_seconds=5, seed=4),
    ],
    ids=["errors", "malformed", "hangs"],
)
def test_transient_faults_are_retried_until_everything_arrives(sim_factory, faults):
    fleet = Fleet.generate(servers=15, executions_per_server=2, seed=9)
    sim = sim_factory(fleet, faults)
    client = client_for(sim, retries=10, timeout=0.5, concurrency=8)
    client.login()
    result = client.fetch(explicit_targets(fleet.executions))
    assert result.problems == []
    assert fetched_ids(result) == sorted(e.execution_id for e in fleet.executions)
    for fetched, execution in zip(result.executions, fleet.executions, strict=True):
        assert fetched.payload == expected_payload(fleet, execution)
    assert sum(sim.stats.snapshot()["faults"].values()) > 0
    assert result.stats.retries >= sum(sim.stats.snapshot()["faults"].values())


def test_rate_limit_lowers_concurrency_and_bounds_429s(sim_factory):
    fleet = Fleet.generate(servers=40, executions_per_server=2, seed=13)
    sim = sim_factory(fleet, FaultConfig(rate_limit=40))
    client = client_for(sim, concurrency=16, sleep=time.sleep)
    client.login()
    result = client.fetch(explicit_targets(fleet.executions))
    assert result.problems == [] and len(result.executions) == 80
    stamps = sim.stats.snapshot()["rate_limited_at"]
    assert stamps, "the rate limit was never reached: the test proves nothing"
    per_second = Counter(int(stamp - stamps[0]) for stamp in stamps)
    # A client that kept sending while throttled would collect hundreds of 429s a second.
    assert max(per_second.values()) <= 2 * 16
    assert result.stats.rate_limited == len(stamps)
    assert result.stats.final_concurrency < 16


def test_retry_after_is_honoured(sim_factory):
    fleet = Fleet.generate(servers=6, executions_per_server=2, seed=13)
    sim = sim_factory(fleet, FaultConfig(rate_limit=4))
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)

    result = client_for(sim, concurrency=1, sleep=sleep).fetch(
        explicit_targets(fleet.executions[:7])
    )
    assert len(result.executions) == 7
    assert result.stats.rate_limited >= 1
    # Retry-After: 1 from the simulator: the wait is that second, not a short backoff.
    assert any(0.8 <= delay <= 1.0 for delay in delays)


def test_parse_retry_after_forms():
    now = datetime(2026, 10, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after("Thu, 01 Oct 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Oct 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("86400", now) == 60.0  # capped
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# --- tokens -----------------------------------------------------------------------------------


def test_expiring_tokens_are_renewed_once_each(sim_factory):
    fleet = Fleet.generate(servers=50, executions_per_server=4, seed=17)
    sim = sim_factory(fleet, FaultConfig(token_ttl_requests=20))
    client = client_for(sim, concurrency=8)
    client.login()
    result = client.fetch(explicit_targets(fleet.executions))
    assert result.problems == [] and len(result.executions) == 200
    assert 8 <= result.stats.relogins <= 13
    assert sim.stats.logins == result.stats.relogins + 1


def test_a_fresh_token_refused_right_away_is_fatal(sim_factory):
    fleet = Fleet.generate(servers=2, executions_per_server=1, seed=5)
    fleet.override(
        "OSD", "VA1OSDWEB01", "VA1-401", b'{"message":"Authorization has been denied"}', status=401
    )
    sim = sim_factory(fleet)
    client = client_for(sim, concurrency=1)
    client.login()
    with pytest.raises(AuthenticationError, match="just issued"):
        client.fetch([Target("OSD", "VA1OSDWEB01", "VA1-401", 2)])
    assert sim.stats.logins == 2  # the login, then exactly one re-login


def test_expired_token_is_renewed_even_before_the_first_fetch(simulator):
    client = client_for(simulator)
    client.login()
    simulator.revoke_tokens()
    result = client.fetch(explicit_targets(simulator.fleet.executions[:5]))
    assert len(result.executions) == 5 and result.stats.relogins == 1


# --- plumbing -----------------------------------------------------------------------------


def test_session_is_shared_pooled_and_verifying(simulator):
    client = client_for(simulator, concurrency=12)
    adapter = client.session.get_adapter(simulator.api_url)
    assert adapter._pool_maxsize == 12 and adapter.max_retries.total == 0
    assert client.session.verify is True
    assert client.session.headers["Accept"] == "application/json"
    assert client.session.headers["User-Agent"].startswith("reporter/")


def test_a_fetch_keeps_several_requests_in_flight(sim_factory):
    # How much faster than one at a time is a benchmark figure (benchmarks/bench_fetch.py).
    fleet = Fleet.generate(servers=16, executions_per_server=4, seed=19)
    sim = sim_factory(fleet, FaultConfig(latency_ms=50))
    client = client_for(sim, concurrency=16)
    client.login()
    result = client.fetch(explicit_targets(fleet.executions))
    assert len(result.executions) == 64
    # Requests one at a time would all go over one keep-alive connection; each connection
    # beyond the first was opened for a request sent while another was still waiting.
    assert sim.stats.snapshot()["connections"] > 1


def test_each_request_is_logged_at_debug(simulator):
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("reporter.client")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        client_for(simulator).fetch(explicit_targets(simulator.fleet.executions[:2]))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [record.getMessage() for record in records]
    assert any(line.startswith("POST ") and "-> 200" in line for line in lines)
    assert (
        sum(
            line.startswith("GET ") and "-> 200 in" in line and "(attempt 1)" in line
            for line in lines
        )
        == 2
    )


def test_ctrl_c_stops_the_workers_and_drops_the_queue(sim_factory, tmp_path):
    from reporter.fetch import EvidenceStore

    fleet = Fleet.generate(servers=50, executions_per_server=4, seed=23)
    sim = sim_factory(fleet, FaultConfig(latency_ms=20))

    class InterruptAfter:
        def start(self, total, done=0):
            pass

        def update(self, done, retries=0):
            if done >= 20:
                raise KeyboardInterrupt

        def finish(self):
            pass

    store = EvidenceStore(tmp_path / "evidence")
    client = client_for(sim, concurrency=8, evidence=store, progress=InterruptAfter())
    with pytest.raises(KeyboardInterrupt):
        client.fetch(explicit_targets(fleet.executions))
    workers = [t for t in threading.enumerate() if t.name.startswith("reporter-fetch")]
    for worker in workers:
        worker.join(timeout=30)  # a guard against a hang: they end at once
    assert not [worker for worker in workers if worker.is_alive()]
    # With every worker gone nothing more can be sent: the queue of 200 was dropped.
    assert sim.stats.requests < 100
    manifest = json.loads((tmp_path / "evidence" / "manifest.json").read_text())
    assert len(manifest["entries"]) >= 20


# --- progress -----------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_one_line():
    now = [0.0]
    stream = Terminal()
    progress = Progress(stream, clock=lambda: now[0])
    assert progress.interactive
    progress.start(10)
    for done in range(1, 11):
        now[0] += 0.5
        progress.update(done, retries=done // 5)
    progress.finish()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and text.count("\r") == 11
    assert "\rfetched 3/10 executions (30%), 2/s, 0 retries, ETA 0:03" in text
    assert "\rfetched 10/10 executions (100%), 2/s, 2 retries, 5.0 s" in text


def test_progress_without_a_terminal_logs_a_line_now_and_then():
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("reporter")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    now = [0.0]
    stream = io.StringIO()
    try:
        fast = Progress(stream, clock=lambda: now[0])
        fast.start(1000)
        for done in range(1, 1001):
            now[0] = done / 100  # 10 s in all, 100 a second
            fast.update(done, retries=4)
        fast.finish()
        assert 8 <= len(lines) <= 12  # about every 10 %, not 1000 lines
        assert lines[0] == "fetched 100/1000 executions (10%), 100/s, 4 retries"
        assert lines[-1] == "fetched 1000/1000 executions (100%), 100/s, 4 retries, 10.0 s"
        lines.clear()
        slow = Progress(stream, clock=lambda: now[0])
        slow.start(1000)
        for done in range(1, 5):
            now[0] += 6  # slower than a line every 5 s: every update shows
            slow.update(done)
        assert len(lines) == 4
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert stream.getvalue() == ""


# --- the whole story ----------------------------------------------------------------------


def test_a_fetch_under_every_fault_returns_what_a_clean_fetch_returns(sim_factory):
    fleet = Fleet.generate(servers=100, executions_per_server=3, seed=53)
    faults = FaultConfig(
        error_rate=0.15,
        rate_limit=150,
        malformed_rate=0.03,
        hang_rate=0.01,
        hang_seconds=3,
        token_ttl_requests=60,
        seed=8,
    )
    clean_sim, rough_sim = sim_factory(fleet), sim_factory(fleet, faults)
    targets = [
        Target(
            (row["account_alias"] or "OSD").upper(),
            row["server_id"],
            row["execution_id"] or None,
            line,
        )
        for line, row in enumerate(fleet.inventory_rows(), start=2)
    ]
    assert len(targets) > 290
    clean = client_for(clean_sim).fetch(targets)
    # retries=8: with a fifth of all requests failing, 6 attempts would give up on about one
    # execution in a hundred runs of this test.
    rough_client = client_for(rough_sim, timeout=1.0, retries=8, sleep=time.sleep)
    rough_client.login()
    rough = rough_client.fetch(targets)

    def facts(result):
        executions = [(e.line, e.execution_id, e.payload, e.discovered) for e in result.executions]
        return executions, result.problems

    assert facts(rough) == facts(clean)
    assert len(clean.executions) > 280
    faults_seen = rough_sim.stats.snapshot()["faults"]
    # (The rate limit bites only when the machine is fast enough to exceed it.)
    assert set(faults_seen) >= {"error", "malformed", "token_expired"}
    assert rough.stats.relogins >= 4
