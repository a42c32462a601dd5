"""A hostile or unlucky API (SPEC 7): odd times, trickled bodies, endless 429s, a huge login answer,
changed evidence. Each case goes through the real path: a loopback server that answers exactly
as the test says, and real files.
"""

import hashlib
import io
import json
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from reporter.cli import main
from reporter.errors import ApiUnreachableError, AuthenticationError
from reporter.fetch import Credentials, EvidenceStore, FailureKind, PatchingClient
from reporter.fetch.contract import parse_time
from reporter.fetch.evidence import body_path, execution_fields
from reporter.fetch.transport import MAX_BODY_BYTES
from reporter.logs import redact
from reporter.records import Target
from reporter.simulator import Fleet

Responder = Callable[[BaseHTTPRequestHandler], None]
TOKEN = "tok-hostile-api-0001"


class HostileApi:
    """A loopback HTTP server whose every answer the test writes, by request path.

    Paths not routed get a 404. ``requests`` counts the requests each path received.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.scheme = "https" if tls else "http"
        self.routes: dict[str, Responder] = {}
        self.requests: Counter[str] = Counter()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._answer()

            def _answer(self) -> None:
                api.requests[self.path] += 1
                responder = api.routes.get(self.path, json_answer({"message": "no"}, 404))
                try:
                    responder(self)
                except OSError:  # the client gave up on us: fine
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base + "/rest"

    @property
    def login_url(self) -> str:
        return self.base + "/v2/authentication/login"

    def detail(self, server: str, execution_id: str, responder: Responder) -> None:
        self.routes[f"/rest/servers/OSD/server/{server}/patch/{execution_id}"] = responder

    def summary(self, server: str, responder: Responder) -> None:
        self.routes[f"/rest/servers/OSD/server/{server}/patch"] = responder

    def __enter__(self) -> "HostileApi":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def json_answer(
    body: object, status: int = 200, headers: tuple[tuple[str, str], ...] = ()
) -> Responder:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    return respond


def detail_body(execution_id: str, start: str = "2026-10-05T01:00:00Z") -> dict:
    return {
        "execution_id": execution_id,
        "status": "completed",
        "start_time": start,
        "end_time": "2026-10-05T01:20:00Z",
        "patches": [
            {
                "patch_begin_message": "Installing Security Update (KB5031361)",
                "patch_end_message": "Result Code: 2",
                "status": "completed",
                "start_time": "2026-10-05T01:00:00Z",
                "end_time": "2026-10-05T01:10:00Z",
            }
        ],
    }


@pytest.fixture
def api() -> Iterator[HostileApi]:
    with HostileApi() as server:
        yield server


@pytest.fixture
def token_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLC_USER", "CLC_PASSWORD", "CLC_V2_API_USERNAME", "CLC_V2_API_PASSWD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLC_BEARER_TOKEN", TOKEN)


def no_sleep(seconds: float) -> None:
    """Backoff without waiting."""


def client_for(api: HostileApi, **options) -> PatchingClient:
    options.setdefault("sleep", no_sleep)
    return PatchingClient(api.api_url, api.login_url, Credentials(token=TOKEN), **options)


def write_inventory(path: Path, rows: list[str]) -> Path:
    path.write_text("server_id,execution_id,account_alias\n" + "\n".join(rows) + "\n")
    return path


def run(argv: list[str]) -> int:
    return main(argv, stdout=io.StringIO())


# --- times that are no time in UTC ----------------------------------------------------------------

OVERFLOWING = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("text", OVERFLOWING)
def test_a_time_beyond_the_calendar_in_utc_is_not_a_time(text):
    assert parse_time(text) is None


def test_a_summary_with_times_beyond_the_calendar_is_reported(api, tmp_path, token_only):
    summary = [
        {"execution_id": "VA1-1", "start_time": OVERFLOWING[0]},
        {"execution_id": "VA1-2", "start_time": OVERFLOWING[1]},
        {"execution_id": "VA1-3", "start_time": "2026-10-05T01:00:00Z"},
    ]
    api.summary("SRV1", json_answer(summary))
    api.detail("SRV1", "VA1-3", json_answer(detail_body("VA1-3")))
    inventory = write_inventory(tmp_path / "inventory.csv", ["SRV1,,OSD"])
    for extra in ([], ["--period", "2026-10"]):
        out = tmp_path / f"out{len(extra)}"
        argv = ["run", str(inventory), "--out", str(out), "--format", "csv", *extra]
        assert run([*argv, "--api-url", api.api_url, "--login-url", api.login_url]) == 0
        [csv_file] = out.glob("*.csv")
        assert "VA1-3" in csv_file.read_text() and "VA1-1" not in csv_file.read_text()


def test_a_manifest_time_beyond_the_calendar_neither_stops_a_rerun_nor_an_archive(
    sim_factory, tmp_path, credentials
):
    fleet = Fleet.generate(servers=4, executions_per_server=2, seed=61)
    sim = sim_factory(fleet)
    done = [e for e in fleet.executions if e.status in ("completed", "failed")]
    done = [e for e in done if not e.style.patches_as_number]
    rows = [f"{e.server_id},{e.execution_id},OSD" for e in done]
    inventory = write_inventory(tmp_path / "inventory.csv", rows)
    out = tmp_path / "out"
    argv = ["run", str(inventory), "--out", str(out), "--format", "csv"]
    urls = ["--api-url", sim.api_url, "--login-url", sim.login_url]
    assert run([*argv, *urls]) == 0
    [manifest] = (out / "evidence").glob("*/manifest.json")
    document = json.loads(manifest.read_bytes())
    for entry, text in zip(document["entries"], OVERFLOWING, strict=False):
        entry["fetched_at"] = text
    manifest.write_text(json.dumps(document))

    archive = tmp_path / "restated"
    restate = ["run", str(inventory), "--out", str(archive), "--format", "csv"]
    assert run([*restate, "--from-archive", str(out)]) == 0
    before = sim.stats.requests
    rerun = [*argv, *urls, "--no-completeness-check"]
    assert run(rerun) == 0  # the rerun reuses every finished execution
    assert sim.stats.requests - before == 1  # the login


# --- the redactor hides values, not words ---------------------------------------------------------


def test_a_login_answer_without_a_token_says_so_in_plain_words(api, tmp_path, monkeypatch, capsys):
    api.routes["/v2/authentication/login"] = json_answer({"userName": "u"})
    monkeypatch.setenv("CLC_USER", "u")
    monkeypatch.setenv("CLC_PASSWORD", "a-password-7")
    monkeypatch.delenv("CLC_BEARER_TOKEN", raising=False)
    inventory = write_inventory(tmp_path / "inventory.csv", ["SRV1,VA1-1,OSD"])
    argv = ["run", str(inventory), "--out", str(tmp_path / "out"), "--api-url", api.api_url]
    assert run([*argv, "--login-url", api.login_url]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith("sent no bearer token"), last


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("the Login API sent no bearer token", "the Login API sent no bearer token"),
        ("a bearer token-based login.", "a bearer token-based login."),
        ("Bearer eyJhbGciOi.eyJzdWIi.c2ln", "Bearer ***"),
        ("got bearer abc123def456 back", "got bearer *** back"),
        ("Authorization: Bearer plainword", "Authorization: Bearer ***"),
        ('{"Authorization": "Bearer x/y+z=="}', '{"Authorization": "Bearer ***"}'),
        ("authorization=s3cr3t-token", "authorization=***"),
        ("Authorization has been denied", "Authorization has been denied"),
    ],
)
def test_the_redactor_hides_values_not_words(text, shown):
    assert redact(text) == shown


# --- answers that trickle in ----------------------------------------------------------------------

TRICKLE_GAP = 0.05  # seconds between bytes: well inside --timeout, so no single wait times out


def trickle(head: bool) -> Responder:
    """Send a valid answer a byte at a time: the head too when ``head``, else only the body."""
    data = json.dumps(detail_body("VA1-5")).encode()
    lines = [
        "HTTP/1.1 200 OK",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        if not head:
            handler.wfile.write(head_bytes)
            handler.wfile.flush()
        for byte in (head_bytes if head else b"") + data:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(TRICKLE_GAP)

    return respond


@pytest.mark.parametrize("head", [False, True], ids=["body", "head"])
def test_a_trickling_answer_is_cut_at_four_timeouts_and_retried(api, head):
    api.detail("SRV1", "VA1-5", trickle(head))
    client = client_for(api, timeout=0.25, retries=1)  # cut after 1 s; the answer takes 20 s
    result = client.fetch([Target("OSD", "SRV1", "VA1-5", 2)])
    assert result.executions == []
    (problem,) = result.problems
    assert problem.cause is FailureKind.TIMEOUT
    assert problem.reason.startswith("gave up after 2 attempts: timed out")
    assert api.requests["/rest/servers/OSD/server/SRV1/patch/VA1-5"] == 2
    assert result.stats.requests == 2 and result.stats.retries == 1


def test_over_tls_a_trickling_answer_is_cut_and_a_steady_one_arrives(tmp_path, monkeypatch):
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    with HostileApi(tls=context) as api:
        api.detail("SRV1", "VA1-5", trickle(head=False))
        api.detail("SRV1", "VA1-6", json_answer(detail_body("VA1-6")))
        client = client_for(api, timeout=0.25, retries=0)
        targets = [Target("OSD", "SRV1", "VA1-5", 2), Target("OSD", "SRV1", "VA1-6", 3)]
        result = client.fetch(targets)
    assert [e.execution_id for e in result.executions] == ["VA1-6"]
    (problem,) = result.problems
    assert (problem.execution_id, problem.cause) == ("VA1-5", FailureKind.TIMEOUT)


def test_a_trickling_login_answer_is_cut_too(api):
    api.routes["/v2/authentication/login"] = trickle(head=False)
    client = PatchingClient(
        api.api_url, api.login_url, Credentials("u", "p"), timeout=0.25, retries=0
    )
    with pytest.raises(ApiUnreachableError, match=r"cannot reach the Login API .*: timed out"):
        client.login()
    assert api.requests["/v2/authentication/login"] == 1


# --- the Login API's answer is capped and streamed like every other -------------------------------


def gzip_bomb(size: int) -> bytes:
    """A gzip body that inflates to ``size`` bytes of valid JSON holding a token."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = b'{"bearerToken": "' + TOKEN.encode() + b'", "pad": "'
    parts = [compressor.compress(head)]
    block = b" " * (1 << 20)
    for _ in range((size - len(head)) // len(block) + 1):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(b'"}'))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_a_login_answer_over_the_cap_is_refused_unread(api):
    def huge(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(1 << 40))
        handler.end_headers()
        handler.wfile.write(b'{"bearerToken": "')

    api.routes["/v2/authentication/login"] = huge
    client = PatchingClient(api.api_url, api.login_url, Credentials("u", "p"), timeout=1, retries=0)
    with pytest.raises(AuthenticationError, match=f"larger than {MAX_BODY_BYTES >> 20} MiB"):
        client.login()


def test_a_gzip_bomb_from_the_login_api_is_defused(api):
    bomb = gzip_bomb(MAX_BODY_BYTES + (1 << 20))
    assert len(bomb) < MAX_BODY_BYTES // 100
    api.routes["/v2/authentication/login"] = json_answer(
        bomb, headers=(("Content-Encoding", "gzip"),)
    )
    client = PatchingClient(api.api_url, api.login_url, Credentials("u", "p"), timeout=5)
    with pytest.raises(AuthenticationError, match="larger than"):
        client.login()  # inflated in full it would be valid JSON with a token: not accepted


# --- the retry budget bounds 429s too -------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 2])
def test_the_retry_budget_bounds_429s_too(api, retries):
    url = "/rest/servers/OSD/server/SRV1/patch/VA1-9"
    api.detail("SRV1", "VA1-9", json_answer({"message": "slow down"}, 429, (("Retry-After", "0"),)))
    waits: list[float] = []
    client = client_for(api, retries=retries, sleep=waits.append)
    result = client.fetch([Target("OSD", "SRV1", "VA1-9", 2)])
    (problem,) = result.problems
    assert problem.cause is FailureKind.RATE_LIMITED
    plural = "s" if retries else ""
    assert problem.reason == f"gave up after {retries + 1} attempt{plural}: HTTP 429"
    assert api.requests[url] == retries + 1
    assert result.stats.rate_limited == retries + 1


# --- evidence that changed, and evidence a killed run left ----------------------------------------


def fetch_into(out: Path, sim, targets, **options):
    store = EvidenceStore(out / "evidence")
    client = PatchingClient(
        sim.api_url, sim.login_url, Credentials("demo", "demo"), evidence=store, sleep=no_sleep
    )
    client.login()
    try:
        return client.fetch(targets, **options)
    finally:
        store.close()


def test_a_changed_evidence_body_is_fetched_again_never_adopted(
    sim_factory, tmp_path, reporter_warnings
):
    fleet = Fleet.generate(servers=6, executions_per_server=2, seed=67)
    sim = sim_factory(fleet)
    done = [e for e in fleet.executions if e.status in ("completed", "failed")]
    targets = [Target("OSD", e.server_id, e.execution_id, n) for n, e in enumerate(done, 2)]
    fetch_into(tmp_path, sim, targets)
    evidence = tmp_path / "evidence"
    changed = done[0]
    path = evidence / body_path("OSD", changed.server_id, changed.execution_id)
    original = path.read_bytes()
    altered = json.loads(original)
    altered["status"] = "failed" if altered.get("status") != "failed" else "completed"
    path.write_bytes(json.dumps(altered).encode())  # still JSON: only the hash knows
    manifest = (evidence / "manifest.json").read_bytes()

    EvidenceStore(evidence).close()  # opening the folder does not bless the change
    assert (evidence / "manifest.json").read_bytes() == manifest

    before = dict(sim.stats.snapshot()["by_execution"])
    result = fetch_into(tmp_path, sim, targets)
    after = sim.stats.snapshot()["by_execution"]
    fetched = {key[2] for key in after if after[key] != before.get(key)}
    assert fetched == {changed.execution_id}
    assert result.stats.reused == len(done) - 1
    (fresh,) = [e for e in result.executions if e.execution_id == changed.execution_id]
    assert fresh.payload == json.loads(original)
    assert path.read_bytes() == original
    assert any(str(path) in record.getMessage() for record in reporter_warnings)


def test_resume_adopts_only_bodies_the_killed_run_journaled(tmp_path):
    evidence = tmp_path / "evidence"
    now = datetime(2026, 11, 20, tzinfo=UTC)

    def save(store: EvidenceStore, number: int) -> None:
        server, execution = f"SRV{number}", f"VA1-{number}"
        body = json.dumps({"execution_id": execution, "status": "completed"}).encode()
        url = f"http://127.0.0.1:1/rest/servers/OSD/server/{server}/patch/{execution}"
        fields = execution_fields("OSD", server, execution, json.loads(body))
        store.save(body_path("OSD", server, execution), url, body, now, fields=fields)

    # A run that flushed its manifest after four bodies, then saved three more and was killed.
    killed = EvidenceStore(evidence, flush_entries=4, flush_seconds=1e9, clock=lambda: 0.0)
    for number in range(7):
        save(killed, number)
    listed = json.loads((evidence / "manifest.json").read_bytes())["entries"]
    assert len(listed) == 4, "the manifest should not list the last bodies yet"
    # A body nobody journaled (copied in by hand), and a journaled one changed afterwards.
    stray = evidence / body_path("OSD", "SRV99", "VA1-99")
    stray.parent.mkdir()
    stray.write_bytes(b'{"execution_id": "VA1-99", "status": "completed"}')
    tampered = evidence / body_path("OSD", "SRV6", "VA1-6")
    tampered.write_bytes(b'{"execution_id": "VA1-6", "status": "failed"}')

    resumed = EvidenceStore(evidence)
    paths = {entry["path"] for entry in resumed.entries}
    assert paths == {body_path("OSD", f"SRV{n}", f"VA1-{n}") for n in range(6)}
    for entry in resumed.entries:
        body = (evidence / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
        assert entry["url"].endswith(entry["path"].split("/")[-1][: -len(".json")])
    resumed.close()
    assert [path.name for path in evidence.iterdir() if path.is_file()] == ["manifest.json"]
