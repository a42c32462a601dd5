"""The fault matrix (SPEC 7): every simulator fault, alone and together, through `reporter run`.

Each run fetches the same 300+ executions as a fault-free run and must write byte-for-byte the
same CSV, exit 0 without a traceback, and show in the simulator's counters that the client
backed off instead of hammering the API: few requests per execution, no storm of 429s, one
login per expired token.
"""

import io
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.simulator import FaultConfig, Fleet, SimulatorServer

# The fault matrix: a slow end-to-end suite (rate limits and hangs take real seconds).
pytestmark = pytest.mark.slow

SERVERS = 80
EXECUTIONS_PER_SERVER = 4
CONCURRENCY = 16
# Generous, so that six transient faults in a row on one execution (1 run in ~70 with every
# fault on) cannot make the run give up and the test flaky; a run uses a retry or two.
RETRIES = 10
TIMEOUT = 0.75  # seconds; a hanging request (3 s) times out and is retried
HANG_SECONDS = 3.0
TOKEN_TTL = 60


@dataclass(frozen=True)
class Case:
    """One row of the matrix: the faults, and the requests per execution they should cost."""

    faults: FaultConfig
    expected_mean: float  # requests per execution the faults' rates predict
    tolerance: float
    injected: tuple[str, ...]  # simulator fault counters that must be non-zero


ERROR_RATE, MALFORMED_RATE, HANG_RATE = 0.15, 0.03, 0.01
CASES = {
    "none": Case(FaultConfig(), 1.0, 0.0, ()),
    "errors": Case(FaultConfig(error_rate=ERROR_RATE), 1 / (1 - ERROR_RATE), 0.1, ("error",)),
    "rate_limit": Case(FaultConfig(rate_limit=100), 1.0, 0.15, ("rate_limited",)),
    "hangs": Case(
        FaultConfig(hang_rate=HANG_RATE, hang_seconds=HANG_SECONDS),
        1 / (1 - HANG_RATE),
        0.03,
        ("hang",),
    ),
    "malformed": Case(
        FaultConfig(malformed_rate=MALFORMED_RATE), 1 / (1 - MALFORMED_RATE), 0.04, ("malformed",)
    ),
    # Requests refused with 401 when a token expires count here too: at most one per worker.
    "token_ttl": Case(FaultConfig(token_ttl_requests=TOKEN_TTL), 1.0, 0.35, ("token_expired",)),
    "latency": Case(FaultConfig(latency_ms=20), 1.0, 0.0, ()),
    "all": Case(
        FaultConfig(
            error_rate=ERROR_RATE,
            # As in the rate_limit case: at 150 a run slowed by hangs and errors on a busy
            # machine may never exceed the limit, and the 429s are never injected.
            rate_limit=100,
            hang_rate=HANG_RATE,
            hang_seconds=HANG_SECONDS,
            malformed_rate=MALFORMED_RATE,
            token_ttl_requests=TOKEN_TTL,
            latency_ms=20,
        ),
        1 / (1 - ERROR_RATE - MALFORMED_RATE - HANG_RATE),
        0.4,
        ("error", "malformed", "token_expired", "rate_limited"),
    ),
}


def matrix_fleet() -> Fleet:
    return Fleet.generate(servers=SERVERS, executions_per_server=EXECUTIONS_PER_SERVER, seed=3)


def write_inventory(fleet: Fleet, path: Path) -> list[tuple[str, str, str]]:
    """An inventory of every execution that lists its patches (nothing for Problems)."""
    keys = [e.key for e in fleet.executions if not e.style.patches_as_number]
    lines = ["server_id,execution_id,account_alias,owner"]
    lines += [f"{server},{execution},{alias},ops" for alias, server, execution in keys]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return keys


def run_report(sim: SimulatorServer, inventory: Path, out: Path) -> int:
    argv = ["run", str(inventory), "--out", str(out), "--format", "csv", "--title", "Faults"]
    argv += ["--concurrency", str(CONCURRENCY), "--retries", str(RETRIES)]
    argv += ["--timeout", str(TIMEOUT), "--api-url", sim.api_url, "--login-url", sim.login_url]
    return main(argv, stdout=io.StringIO())


def busiest_second(moments: list[float]) -> int:
    """The most events in any one-second window."""
    most = 0
    for first, start in enumerate(moments):
        most = max(most, sum(1 for moment in moments[first:] if moment - start < 1.0))
    return most


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> bytes:
    """The CSV of a fault-free run: what every faulty run must reproduce."""
    folder = tmp_path_factory.mktemp("baseline")
    fleet = matrix_fleet()
    write_inventory(fleet, folder / "inventory.csv")
    with (
        pytest.MonkeyPatch.context() as patch,
        SimulatorServer(fleet) as sim,
    ):
        patch.setenv("CLC_USER", "demo")
        patch.setenv("CLC_PASSWORD", "demo")
        patch.delenv("CLC_BEARER_TOKEN", raising=False)
        assert run_report(sim, folder / "inventory.csv", folder / "out") == 0
    [csv_path] = (folder / "out").glob("patch-compliance-*.csv")
    return csv_path.read_bytes()


@pytest.mark.parametrize("name", list(CASES))
def test_faults_leave_the_report_unchanged(name, baseline, tmp_path, credentials, capsys):
    case = CASES[name]
    fleet = matrix_fleet()
    keys = write_inventory(fleet, tmp_path / "inventory.csv")
    assert len(keys) >= 300
    with SimulatorServer(fleet, faults=case.faults) as sim:
        code = run_report(sim, tmp_path / "inventory.csv", tmp_path / "out")
        stats = sim.stats.snapshot()
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    assert all(line.startswith("reporter: ") for line in err.splitlines()), err

    [csv_path] = (tmp_path / "out").glob("patch-compliance-*.csv")
    produced = csv_path.read_bytes()
    header = produced.split(b"\n", 1)[0].decode()
    assert "generated" not in header  # nothing in the CSV depends on when it was made
    assert produced == baseline

    per_execution = [stats["by_execution"].get(key, 0) for key in keys]
    mean = statistics.fmean(per_execution)
    rate_limited = stats["rate_limited_at"]
    burst = busiest_second(rate_limited)
    detail_requests = stats["by_kind"].get("detail", 0)
    print(
        f"\nfaults {name:<10} executions {len(keys)}  requests/execution mean {mean:.3f} "
        f"(predicted {case.expected_mean:.3f}) max {max(per_execution)}  "
        f"429s {len(rate_limited)} (busiest second {burst})  logins {stats['logins']}  "
        f"injected {stats['faults']}  statuses {stats['by_status']}"
    )
    assert min(per_execution) >= 1
    assert max(per_execution) <= RETRIES + 2
    assert abs(mean - case.expected_mean) <= case.tolerance
    for fault in case.injected:
        assert stats["faults"].get(fault, 0) > 0, f"{fault} was never injected"
    # Backing off, not storming: 429s come in small bursts and stay a small share.
    assert burst <= 2 * CONCURRENCY
    assert len(rate_limited) <= 0.15 * detail_requests
    # One login per expired token, not one per 401; each expiry refuses at most the
    # requests already in flight with the old token.
    assert stats["login_failures"] == 0
    if case.faults.token_ttl_requests:
        assert 2 <= stats["logins"] <= stats["requests"] // TOKEN_TTL + 2
        refused = stats["by_status"].get(401, 0)
        assert refused <= (stats["logins"] - 1) * CONCURRENCY
    else:
        assert stats["logins"] == 1
