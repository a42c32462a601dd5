"""Complete evidence (SPEC 5, 9): every URL's final answer is kept, data or not, so that a
re-render from the archive reports exactly the problems the networked run reported, and a
rerun asks again for what failed instead of taking a saved failure for data."""

import io
import json
from pathlib import Path

import openpyxl
import pytest
from readers import sheet_rows

from reporter.cli import main
from reporter.simulator import FaultConfig, Fleet

TIMEOUT = "0.5"


@pytest.fixture
def fleet() -> Fleet:
    return Fleet.generate(servers=8, executions_per_server=2, seed=13)


def faulty_inventory(fleet: Fleet, path: Path) -> dict[str, tuple[str, str | None]]:
    """An inventory whose rows meet every kind of answer that is not data; returns what each
    fault was set on (server, execution)."""
    servers = [server.server_id for server in fleet.servers]
    by_server = {server: fleet.server_executions("OSD", server) for server in servers}
    faults = {
        "truncated": (servers[0], by_server[servers[0]][0].execution_id),
        "hang": (servers[1], by_server[servers[1]][0].execution_id),
        "server error": (servers[2], by_server[servers[2]][0].execution_id),
        "forbidden server": (servers[3], None),
    }
    fleet.override("OSD", *faults["truncated"], b'{"execution_id": "VA1-1', status=200)
    fleet.override("OSD", *faults["hang"], hang=True)
    fleet.override("OSD", *faults["server error"], b"<h1>oops</h1>", status=500)
    fleet.override("OSD", *faults["forbidden server"], b'{"message": "Not yours."}', status=403)
    rows = ["server_id,execution_id,account_alias"]
    for server in servers[:3]:
        rows += [f"{server},{execution.execution_id},OSD" for execution in by_server[server]]
    rows.append(f"{servers[3]},,OSD")  # the forbidden server, its executions to be discovered
    rows.append(f"{servers[4]},,OSD")  # an ordinary server-only row
    rows.append(f"{servers[5]},VA1-999999,OSD")  # an execution the API does not know
    rows.append("VA1OSDGONE01,,OSD")  # a server the API does not know
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return faults


def run(argv: list[str]) -> int:
    return main(argv, stdout=io.StringIO())


def problems(folder: Path) -> list[tuple]:
    [workbook] = folder.glob("*.xlsx")
    rows = sheet_rows(openpyxl.load_workbook(workbook, read_only=True), "Problems")
    return [(row["Kind"], row["Reason"], row["Line"]) for row in rows]


def test_a_re_render_from_the_archive_reports_the_same_problems(
    tmp_path, fleet, sim_factory, credentials
):
    faults = faulty_inventory(fleet, tmp_path / "inventory.csv")
    sim = sim_factory(fleet, FaultConfig(hang_seconds=30))
    out = tmp_path / "out"
    argv = ["run", str(tmp_path / "inventory.csv"), "--out", str(out), "--format", "xlsx"]
    argv += ["--api-url", sim.api_url, "--login-url", sim.login_url, "--no-history"]
    argv += ["--no-completeness-check", "--timeout", TIMEOUT, "--retries", "0"]
    assert run(argv) == 3
    networked = problems(out)
    kinds = {kind for kind, _, _ in networked}
    assert {"not found", "forbidden", "not JSON", "fetch failed"} <= kinds
    reasons = " | ".join(reason for _, reason, _ in networked)
    assert "timed out after" in reasons and "HTTP 500" in reasons
    assert "execution not found (HTTP 404: Patch execution not found.)" in reasons
    assert "access denied (HTTP 403: Not yours.)" in reasons

    # The manifest keeps each failed URL's final answer: status, size, attempts, last error.
    [manifest] = out.glob("evidence/*/manifest.json")
    entries = {
        (entry["server_id"], entry["execution_id"]): entry
        for entry in json.loads(manifest.read_bytes())["entries"]
    }
    hang = entries[faults["hang"]]
    assert (hang["status"], hang["bytes"], hang["attempts"]) == (None, 0, 1)
    assert hang["failure"]["kind"] == "timeout" and "timed out" in hang["last_error"]
    cut = entries[faults["truncated"]]
    assert (cut["status"], cut["bytes"], cut["failure"]["kind"]) == (200, 23, "not JSON")
    assert entries[faults["server error"]]["status"] == 500
    assert entries[faults["forbidden server"]]["status"] == 403

    again = tmp_path / "again"
    assert run(["run", "--from-archive", str(out), "--out", str(again), "--format", "xlsx"]) == 3
    assert problems(again) == networked
    assert "not in the archive" not in " ".join(reason for _, reason, _ in problems(again))


def test_a_rerun_asks_again_for_what_failed_and_reuses_what_did_not(
    tmp_path, fleet, sim_factory, credentials
):
    faults = faulty_inventory(fleet, tmp_path / "inventory.csv")
    sim = sim_factory(fleet, FaultConfig(hang_seconds=30))
    out = tmp_path / "out"
    argv = ["run", str(tmp_path / "inventory.csv"), "--out", str(out), "--format", "xlsx"]
    argv += ["--api-url", sim.api_url, "--login-url", sim.login_url, "--no-history"]
    argv += ["--no-completeness-check", "--timeout", TIMEOUT, "--retries", "0"]
    assert run(argv) == 3
    before = sim.stats.snapshot()
    fleet.clear_overrides()  # the API is well again

    assert run(argv) == 3  # the same label: its evidence is resumed from
    after = sim.stats.snapshot()

    def asked(server: str, execution: str) -> int:
        key = ("OSD", server, execution)
        return after["by_execution"].get(key, 0) - before["by_execution"].get(key, 0)

    for fault in ("truncated", "hang", "server error"):
        assert asked(*faults[fault]) == 1, fault  # a saved failure is not data
    forbidden = faults["forbidden server"][0]
    summary = f"/rest/servers/OSD/server/{forbidden}/patch"
    assert after["paths"][summary] - before["paths"][summary] == 1
    finished = [
        execution
        for execution in fleet.server_executions("OSD", faults["truncated"][0])[1:]
        if execution.status in ("completed", "failed")
    ]
    assert finished and all(asked(e.server_id, e.execution_id) == 0 for e in finished)
    left = {kind for kind, _, _ in problems(out)}
    assert "not found" in left  # what the API really does not know
    assert not left & {"forbidden", "not JSON", "fetch failed"}
