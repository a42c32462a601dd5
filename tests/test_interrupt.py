"""Interrupted runs (SPEC 5, 6, 7): Ctrl-C and SIGKILL part-way through `reporter run`.

`python -m reporter run` runs as a child process against a simulator in this process (20 ms per
request, so the fetch takes a few seconds). After the interruption no report file and no
temporary file is left, the evidence fetched so far is kept, and a rerun into the same folder
fetches only what is missing and writes the same CSV as an uninterrupted run.
"""

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import sigint_reaches_children

from reporter.cli import main
from reporter.simulator import FaultConfig, Fleet, SimulatorServer

SERVERS = 60
EXECUTIONS_PER_SERVER = 4
LATENCY_MS = 20
CONCURRENCY = 2  # ~240 executions x 20 ms / 2 = about 2.5 s of fetching, if not interrupted
RERUN_CONCURRENCY = 8  # the reruns are not interrupted: no need to be slow
INTERRUPT_AFTER = 40  # evidence files on disk before the signal is sent

Key = tuple[str, str, str]


@pytest.fixture
def slow_sim() -> Iterator[SimulatorServer]:
    fleet = Fleet.generate(servers=SERVERS, executions_per_server=EXECUTIONS_PER_SERVER, seed=5)
    with SimulatorServer(fleet, faults=FaultConfig(latency_ms=LATENCY_MS)) as sim:
        yield sim


def write_inventory(fleet: Fleet, path: Path) -> list[Key]:
    keys = [e.key for e in fleet.executions if not e.style.patches_as_number]
    lines = ["server_id,execution_id,account_alias,owner"]
    lines += [f"{server},{execution},{alias},ops" for alias, server, execution in keys]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return keys


def run_args(
    sim: SimulatorServer,
    inventory: Path,
    out: Path,
    concurrency: int = CONCURRENCY,
    formats: str = "csv,html",
) -> list[str]:
    return [
        "run",
        str(inventory),
        "--out",
        str(out),
        "--format",
        formats,
        "--concurrency",
        str(concurrency),
        "--api-url",
        sim.api_url,
        "--login-url",
        sim.login_url,
    ]


def evidence_dir(out: Path) -> Path:
    """The run's evidence folder: its label's (the run's date, as it has no period)."""
    [folder] = [path for path in (out / "evidence").iterdir() if path.is_dir()]
    return folder


def evidence_bodies(out: Path) -> dict[Key, Path]:
    """The execution bodies on disk, by (ALIAS, server, execution)."""
    found = {}
    for path in (out / "evidence").glob("*/*/*/*.json"):
        if path.stem != "_summary":
            found[(path.parent.parent.name.upper(), path.parent.name, path.stem)] = path
    return found


def start_and_interrupt(sim: SimulatorServer, inventory: Path, out: Path, sig: int) -> tuple:
    """Run the command as a child, send ``sig`` once enough evidence is on disk."""
    with sigint_reaches_children():
        child = subprocess.Popen(
            [sys.executable, "-m", "reporter", *run_args(sim, inventory, out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        # The child writes the evidence: poll the folder. The bound only keeps a run that
        # hangs from hanging the suite (a whole uninterrupted run takes a few seconds).
        for _ in range(3000):
            if len(evidence_bodies(out)) >= INTERRUPT_AFTER:
                break
            assert child.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.02)
        else:
            pytest.fail("the run made no progress")
        child.send_signal(sig)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, stdout.decode(), stderr.decode()


def requests_by_execution(sim: SimulatorServer) -> dict[Key, int]:
    return dict(sim.stats.snapshot()["by_execution"])


def rerun_and_compare(sim, inventory, out, keys, kept, tmp_path) -> tuple[int, int]:
    """Rerun into ``out``: only missing executions fetched, same CSV as an uninterrupted run.

    A kept execution that was still pending or running may have moved on since: it is
    fetched again; every finished one is reused.

    Returns (executions reused, executions fetched by the rerun).
    """
    finished = {key for key in kept if sim.fleet.execution(*key).status in ("completed", "failed")}
    before = requests_by_execution(sim)
    rerun = run_args(sim, inventory, out, concurrency=RERUN_CONCURRENCY)
    assert main(rerun, stdout=io.StringIO()) == 0
    after = requests_by_execution(sim)
    fetched = {key for key in keys if after.get(key, 0) > before.get(key, 0)}
    assert not fetched & finished, "the rerun fetched an execution it already had"
    assert fetched == set(keys) - finished, "the rerun missed an execution"
    assert all(after[key] - before.get(key, 0) == 1 for key in fetched)

    fresh = tmp_path / "uninterrupted"
    uninterrupted = run_args(sim, inventory, fresh, RERUN_CONCURRENCY, formats="csv")
    assert main(uninterrupted, stdout=io.StringIO()) == 0
    [resumed_csv] = out.glob("patch-compliance-*.csv")
    [fresh_csv] = fresh.glob("patch-compliance-*.csv")
    assert resumed_csv.read_bytes() == fresh_csv.read_bytes()
    return len(finished), len(fetched)


def no_partial_files(out: Path) -> None:
    assert not list(out.glob("patch-compliance-*"))
    assert not list(out.rglob("*.part"))


def manifest_entries(out: Path) -> dict[str, dict]:
    document = json.loads((evidence_dir(out) / "manifest.json").read_bytes())
    return {entry["path"]: entry for entry in document["entries"]}


@pytest.mark.slow
def test_ctrl_c_keeps_evidence_and_a_rerun_resumes(slow_sim, tmp_path, credentials):
    keys = write_inventory(slow_sim.fleet, tmp_path / "inventory.csv")
    out = tmp_path / "out"
    code, _, stderr = start_and_interrupt(slow_sim, tmp_path / "inventory.csv", out, signal.SIGINT)
    assert code == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    no_partial_files(out)

    kept = evidence_bodies(out)
    entries = manifest_entries(out)
    assert INTERRUPT_AFTER <= len(kept) < len(keys)
    # The manifest is written on the way out: it lists every body kept, hashes matching.
    for key, path in kept.items():
        entry = entries[path.relative_to(evidence_dir(out)).as_posix()]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        alias, server, execution = key
        assert (
            entry["url"] == f"{slow_sim.api_url}/servers/{alias}/server/{server}/patch/{execution}"
        )

    reused, fetched = rerun_and_compare(
        slow_sim, tmp_path / "inventory.csv", out, keys, kept, tmp_path
    )
    print(
        f"\nSIGINT: exit 130, {len(kept)} of {len(keys)} executions "
        f"kept; rerun reused {reused} and fetched {fetched}; CSV identical"
    )


@pytest.mark.slow
def test_sigkill_evidence_is_recovered_and_a_rerun_resumes(slow_sim, tmp_path, credentials):
    keys = write_inventory(slow_sim.fleet, tmp_path / "inventory.csv")
    out = tmp_path / "out"
    code, _, _ = start_and_interrupt(slow_sim, tmp_path / "inventory.csv", out, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not list(out.glob("patch-compliance-*"))

    # Killed between manifest flushes: some bodies on disk may not be listed yet.
    kept = evidence_bodies(out)
    manifest = evidence_dir(out) / "manifest.json"
    listed_before = set(manifest_entries(out)) if manifest.is_file() else set()
    assert len(kept) >= INTERRUPT_AFTER

    reused, fetched = rerun_and_compare(
        slow_sim, tmp_path / "inventory.csv", out, keys, kept, tmp_path
    )
    assert not list(out.rglob("*.part"))
    entries = manifest_entries(out)
    for path in evidence_bodies(out).values():
        relative = path.relative_to(evidence_dir(out)).as_posix()
        assert entries[relative]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entries[relative]["url"], f"{relative} has no URL in the manifest"
    unlisted = len(kept) - len(
        listed_before & {p.relative_to(evidence_dir(out)).as_posix() for p in kept.values()}
    )
    print(
        f"\nSIGKILL: {len(kept)} of {len(keys)} executions on disk ({unlisted} not yet in the "
        f"manifest); rerun recovered them all, reused {reused} and fetched {fetched}; CSV identical"
    )
