"""Failure kinds: every fetch problem carries its cause, and decisions read the cause only."""

import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.fetch import Credentials, FailureKind, PatchingClient, failures, read_archive
from reporter.problems import FETCH_FAILED, FORBIDDEN, NOT_FOUND, NOT_JSON, Problem
from reporter.records import Target
from reporter.simulator import Fleet
from reporter.sources import all_unreachable

DEMO = Credentials("demo", "demo")


def no_sleep(seconds: float) -> None:
    """Backoff without waiting."""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def token_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bearer token and nothing else: no login request, straight to the fetch."""
    for name in ("CLC_USER", "CLC_PASSWORD", "CLC_V2_API_USERNAME", "CLC_V2_API_PASSWD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLC_BEARER_TOKEN", "tok-for-a-dead-api-1")


def inventory(path: Path) -> Path:
    path.write_text(
        "server_id,execution_id,account_alias\n"
        "VA1OSDWEB01,VA1-100001,OSD\nVA1OSDWEB02,VA1-100002,OSD\nVA1OSDWEB03,,OSD\n",
        encoding="utf-8",
    )
    return path


def run_against(port: int, tmp_path: Path, *options: str) -> tuple[int, str]:
    api = f"http://127.0.0.1:{port}"
    argv = ["run", str(inventory(tmp_path / "inventory.csv")), "--out", str(tmp_path / "out")]
    argv += ["--api-url", f"{api}/rest", "--login-url", f"{api}/v2/authentication/login"]
    argv += ["--format", "csv", "--retries", "0", *options]
    stdout = io.StringIO()
    return main(argv, stdout=stdout), stdout.getvalue()


def test_a_dead_api_is_one_line_and_exit_2(tmp_path, token_only, capsys):
    code, _ = run_against(closed_port(), tmp_path)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("connection refused") and "could not fetch any execution" in err[-1]
    assert not list((tmp_path / "out").glob("patch-compliance-*"))


def test_an_api_that_never_answers_is_exit_2_too(tmp_path, token_only, silent_port, capsys):
    code, _ = run_against(silent_port, tmp_path, "--timeout", "0.3")
    assert code == 2
    assert "timed out" in capsys.readouterr().err


def test_the_exit_code_of_a_dead_api_does_not_depend_on_the_wording(
    tmp_path, token_only, monkeypatch, capsys
):
    # Say it in other words: nothing about "connection" or "timed out" is left to match.
    monkeypatch.setattr(failures, "_connection_failure", lambda error, chain: "la ligne est morte")
    code, _ = run_against(closed_port(), tmp_path)
    assert code == 2
    assert capsys.readouterr().err.strip().endswith("la ligne est morte")


def test_all_unreachable_reads_the_cause_not_the_reason():
    dead = Problem(FETCH_FAILED, "la ligne est morte", 2, cause=FailureKind.UNREACHABLE)
    assert all_unreachable([dead])
    assert all_unreachable([Problem(FETCH_FAILED, "??", cause=FailureKind.TIMEOUT)])
    assert all_unreachable([Problem(FETCH_FAILED, "??", cause=FailureKind.TLS)])
    worded = Problem(FETCH_FAILED, "gave up: connection refused", cause=FailureKind.HTTP_STATUS)
    assert not all_unreachable([worded])
    # Problems that are not fetch failures say nothing about the API.
    assert not all_unreachable([Problem("invalid row", "connection refused")])
    mixed = [
        Problem(FETCH_FAILED, "x", cause=FailureKind.UNREACHABLE),
        Problem(NOT_FOUND, "y", cause=FailureKind.NOT_FOUND),  # the API did answer
    ]
    assert not all_unreachable(mixed)


def test_every_fetch_problem_carries_its_cause(sim_factory, tmp_path):
    fleet = Fleet.generate(servers=2, executions_per_server=1, seed=5)
    answers = {
        "VA1-400": (400, b'{"message": "no"}', FETCH_FAILED, FailureKind.REJECTED),
        "VA1-403": (403, b"{}", FORBIDDEN, FailureKind.FORBIDDEN),
        "VA1-404": (404, b"{}", NOT_FOUND, FailureKind.NOT_FOUND),
        "VA1-301": (301, b"", FETCH_FAILED, FailureKind.REDIRECT),
        "VA1-418": (418, b"", FETCH_FAILED, FailureKind.HTTP_STATUS),
        "VA1-503": (503, b"", FETCH_FAILED, FailureKind.HTTP_STATUS),
        "VA1-200": (200, b"<html>", NOT_JSON, FailureKind.NOT_JSON),
    }
    for execution_id, (status, body, _, _) in answers.items():
        fleet.override("OSD", "VA1OSDWEB01", execution_id, body, status=status)
    fleet.override("OSD", "VA1OSDWEB01", "VA1-777", b'{"patches": []}')
    sim = sim_factory(fleet)
    targets = [Target("OSD", "VA1OSDWEB01", execution_id, 2) for execution_id in answers]
    targets.append(Target("OSD", "VA1OSDWEB01", "VA1-777", 3))
    client = PatchingClient(sim.api_url, sim.login_url, DEMO, retries=0, sleep=no_sleep)
    client.login()
    result = client.fetch(targets)
    assert [(p.kind, p.cause) for p in result.problems] == [
        (kind, cause) for _, _, kind, cause in answers.values()
    ]
    assert len(result.executions) == 1
    assert all(problem.cause.problem_kind == problem.kind for problem in result.problems)

    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "manifest.json").write_text('{"entries": []}')
    archived = read_archive(tmp_path, targets[:1], None)
    assert [(p.kind, p.cause) for p in archived.problems] == [
        (NOT_FOUND, FailureKind.MISSING_EVIDENCE)
    ]
