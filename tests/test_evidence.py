"""Evidence on disk: bodies as received, a checkable manifest, resume, archives, no secrets."""

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reporter import __version__
from reporter.errors import ArchiveError, AuthenticationError
from reporter.fetch import (
    Credentials,
    EvidenceStore,
    PatchingClient,
    fetch_executions,
    read_archive,
)
from reporter.fetch.evidence import body_path
from reporter.fileio import atomic_write_bytes
from reporter.problems import FETCH_FAILED, INVALID_ROW, NOT_FOUND
from reporter.records import Period, Target
from reporter.simulator import FaultConfig, Fleet

DEMO = Credentials("demo", "demo")


def no_sleep(seconds: float) -> None:
    """Backoff without waiting."""


def targets_for(executions, first_line: int = 2) -> list[Target]:
    return [
        Target(execution.account, execution.server_id, execution.execution_id, line)
        for line, execution in enumerate(executions, start=first_line)
    ]


def fetch_into(out: Path, sim, targets, period=None, credentials=DEMO, **options):
    """One run: a client saving evidence into ``out/evidence``; returns (result, store)."""
    store = EvidenceStore(out / "evidence")
    client = PatchingClient(
        sim.api_url, sim.login_url, credentials, evidence=store, sleep=no_sleep, **options
    )
    client.login()
    try:
        result = client.fetch(targets, period)
    finally:
        store.close()
    return result, store


def detail_requests(sim) -> int:
    return sim.stats.snapshot()["by_kind"].get("detail", 0)


def test_bodies_are_saved_as_received_and_the_manifest_checks_them(sim_factory, tmp_path):
    fleet = Fleet.generate(servers=8, executions_per_server=3, seed=29)
    fleet.override("OSD", "VA1OSDWEB01", "VA1-77", b'{"cut": ', status=200)
    sim = sim_factory(fleet)
    server = fleet.executions[0].server_id
    targets = targets_for(fleet.executions[3:])
    targets += [
        Target("OSD", server, None, 90),
        Target("OSD", server, "VA1-404404", 91),
        Target("OSD", "VA1OSDWEB01", "VA1-77", 92),
    ]
    result, store = fetch_into(tmp_path, sim, targets, retries=1)
    assert len(result.executions) == len(fleet.executions) - 3 + 1

    evidence = tmp_path / "evidence"
    manifest = json.loads((evidence / "manifest.json").read_bytes())
    assert manifest["tool"] == f"reporter {__version__}"
    entries = {entry["path"]: entry for entry in manifest["entries"]}
    # The details, one summary, and the two answers that were not data.
    assert len(entries) == len(result.executions) + 1 + 2
    for fetched in result.executions:
        path = f"OSD/{fetched.server_id}/{fetched.execution_id}.json"
        body = (evidence / path).read_bytes()
        assert body == fleet.detail_bytes("OSD", fetched.server_id, fetched.execution_id)
        entry = entries[path]
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
        assert entry["bytes"] == len(body)
        assert (entry["status"], entry["kind"], entry["url"]) == (200, "detail", fetched.url)
        assert (entry["account_alias"], entry["server_id"], entry["execution_id"]) == (
            "OSD",
            fetched.server_id,
            fetched.execution_id,
        )
        status = fetched.payload.get("status", fetched.payload.get("Status"))
        assert entry["execution_status"] == status.lower()
        assert entry["fetched_at"].endswith("Z")
        assert (entry["attempts"], entry["last_error"], entry["failure"]) == (1, None, None)
    summary = entries[f"OSD/{server}/_summary.json"]
    assert summary["kind"] == "summary" and summary["execution_id"] is None
    assert (evidence / summary["path"]).read_bytes() == fleet.summary_bytes("OSD", server)
    # A 404 and a body that is not JSON are problems, and evidence too: their bodies as
    # received, with the status, the attempts and the failure the run reported.
    problems = {problem.execution_id: problem for problem in result.problems}
    missing = entries[f"OSD/{server}/VA1-404404.json"]
    assert (missing["status"], missing["attempts"], missing["last_error"]) == (
        404,
        1,
        "HTTP 404: Patch execution not found.",
    )
    assert missing["failure"] == {"kind": "not found", "reason": problems["VA1-404404"].reason}
    assert json.loads((evidence / missing["path"]).read_bytes()) == {
        "message": "Patch execution not found."
    }
    cut = entries["OSD/VA1OSDWEB01/VA1-77.json"]
    assert (evidence / cut["path"]).read_bytes() == b'{"cut": '
    assert (cut["status"], cut["attempts"], cut["bytes"]) == (200, 2, 8)  # retried once
    assert cut["failure"] == {"kind": "not JSON", "reason": problems["VA1-77"].reason}
    assert cut["last_error"].startswith("first bytes")
    assert (
        store.manifest_sha256()
        == hashlib.sha256((evidence / "manifest.json").read_bytes()).hexdigest()
    )


def test_a_rerun_reuses_finished_executions_and_refetches_running_ones(sim_factory, tmp_path):
    fleet = Fleet.generate(servers=40, executions_per_server=2, seed=31)
    sim = sim_factory(fleet)
    unfinished = [e for e in fleet.executions if e.status not in ("completed", "failed")]
    assert unfinished, "the fleet has no running execution: the test proves nothing"
    targets = targets_for(fleet.executions)
    first, _ = fetch_into(tmp_path, sim, targets)
    assert detail_requests(sim) == len(fleet.executions) and first.stats.reused == 0

    before = sim.stats.snapshot()["by_execution"]
    second, _ = fetch_into(tmp_path, sim, targets)
    after = sim.stats.snapshot()["by_execution"]
    refetched = {key[2] for key in after if after[key] != before.get(key)}
    assert refetched == {e.execution_id for e in unfinished}
    assert second.stats.reused == len(fleet.executions) - len(unfinished)
    assert [e.payload for e in second.executions] == [e.payload for e in first.executions]


def test_evidence_from_another_api_is_not_reused(sim_factory, tmp_path):
    fleet = Fleet.generate(servers=10, executions_per_server=1, seed=32)
    targets = targets_for(fleet.executions)
    fetch_into(tmp_path, sim_factory(fleet), targets)
    other = sim_factory(fleet)  # the same data at another address: another API
    second, store = fetch_into(tmp_path, other, targets)
    assert second.stats.reused == 0
    assert detail_requests(other) == len(fleet.executions)
    assert {entry["url"].split("/rest/")[0] for entry in store.entries} == {
        other.api_url.split("/rest")[0]
    }


def test_an_interrupted_run_is_recovered_from_the_files(sim_factory, tmp_path):
    fleet = Fleet.generate(servers=10, executions_per_server=2, seed=37)
    sim = sim_factory(fleet)
    evidence = tmp_path / "evidence"
    # A run killed after its manifest listed seven bodies: the rest are in the journal only.
    store = EvidenceStore(evidence, flush_entries=7, flush_seconds=1e9, clock=lambda: 0.0)
    client = PatchingClient(sim.api_url, sim.login_url, DEMO, evidence=store, concurrency=1)
    client.login()
    fetch_executions(client.source, targets_for(fleet.executions))  # no final flush: killed
    manifest_path = evidence / "manifest.json"
    listed = json.loads(manifest_path.read_bytes())["entries"]
    assert 0 < len(listed) < len(fleet.executions)
    assert list(evidence.glob("journal-*.jsonl"))
    # ... in the middle of writing another; and a power cut left one body never synced.
    leftover = evidence / "OSD" / fleet.executions[0].server_id / ".VA1-1.json.abc.part"
    leftover.write_bytes(b'{"half')
    journaled_only = {entry["path"] for entry in store.entries} - {e["path"] for e in listed}
    emptied = evidence / sorted(journaled_only)[0]
    emptied.write_bytes(b"")

    recovered = EvidenceStore(evidence)
    assert not leftover.exists()
    entries = recovered.entries
    assert len(entries) == len(fleet.executions) - 1
    assert emptied.relative_to(evidence).as_posix() not in {entry["path"] for entry in entries}
    for entry in entries:
        body = (evidence / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
        assert entry["url"].startswith(sim.api_url + "/servers/OSD/server/")
    # The manifest now lists them all, and the journal it replaces is gone.
    assert len(json.loads(manifest_path.read_bytes())["entries"]) == len(fleet.executions) - 1
    assert not list(evidence.glob("journal-*.jsonl"))

    # Without a readable manifest (and no journal) no hash is on record: nothing is adopted.
    manifest_path.write_text("{not json")
    assert EvidenceStore(evidence).entries == []


def test_the_manifest_is_flushed_while_the_fetch_runs(sim_factory, tmp_path):
    fleet = Fleet.generate(servers=10, executions_per_server=2, seed=41)
    sim = sim_factory(fleet)
    store = EvidenceStore(tmp_path / "evidence", flush_entries=5)
    client = PatchingClient(sim.api_url, sim.login_url, DEMO, evidence=store, concurrency=1)
    client.fetch(targets_for(fleet.executions[:7]))  # no close(): a run killed afterwards
    listed = json.loads((tmp_path / "evidence" / "manifest.json").read_bytes())["entries"]
    assert len(listed) == 7  # five by count, the rest when the fetch ended


def test_evidence_paths_are_built_only_from_valid_ids(tmp_path):
    store = EvidenceStore(tmp_path / "evidence")
    for ids in (("OSD", "../x", "VA1-1"), ("OSD", "SRV", "../../VA1-1"), ("..", "SRV", None)):
        with pytest.raises(ValueError):
            body_path(*ids)
    now = datetime.now(UTC)
    for relative in ("../x.json", "OSD/../../x.json", "/etc/x.json", "OSD/.hidden", "OSD//x", ""):
        with pytest.raises(ValueError):
            store.save(relative, "http://127.0.0.1/x", b"{}", now)
    assert not (tmp_path / "evidence").exists()
    assert not (tmp_path / "x.json").exists()


def test_read_archive_gives_the_network_result_without_the_network(sim_factory, tmp_path):
    fleet = Fleet.generate(servers=8, executions_per_server=4, seed=43)
    sim = sim_factory(fleet)
    server = fleet.executions[-1].server_id
    period = Period(fleet.executions[-1].start.year, fleet.executions[-1].start.month)
    listed = [e for e in fleet.executions if e.server_id != server]
    targets = [*targets_for(listed), Target("OSD", server, None, 99)]
    online, _ = fetch_into(tmp_path, sim, targets, period)
    requests_before = sim.stats.requests

    for archive in (tmp_path, tmp_path / "evidence"):
        offline = read_archive(archive, targets, period)
        assert offline.problems == online.problems == []
        assert [(e.execution_id, e.payload, e.url, e.discovered) for e in offline.executions] == [
            (e.execution_id, e.payload, e.url, e.discovered) for e in online.executions
        ]
    assert sim.stats.requests == requests_before

    tampered = (
        tmp_path / "evidence" / "OSD" / listed[0].server_id / f"{listed[0].execution_id}.json"
    )
    tampered.write_bytes(tampered.read_bytes() + b" ")  # still valid JSON: only the hash knows
    gone = tmp_path / "evidence" / "OSD" / listed[1].server_id / f"{listed[1].execution_id}.json"
    gone.unlink()
    extra = [
        Target("OSD", server, "VA1-123456", 100),
        Target("OSD", "../../etc", "VA1-1", 101),
        Target("OSD", "NOSERVER", None, 102),
    ]
    result = read_archive(tmp_path, targets + extra, period)
    problems = {problem.line: problem for problem in result.problems}
    assert problems[2].kind == FETCH_FAILED
    assert problems[2].reason.startswith("evidence file changed since it was fetched")
    assert problems[3].kind == NOT_FOUND and "not in the archive" in problems[3].reason
    assert (problems[100].kind, problems[100].reason) == (NOT_FOUND, "not in the archive")
    assert problems[101].kind == INVALID_ROW
    assert (problems[102].kind, problems[102].reason) == (NOT_FOUND, "not in the archive")
    assert len(result.executions) == len(online.executions) - 2


def test_read_archive_refuses_a_folder_without_a_readable_manifest(tmp_path):
    with pytest.raises(ArchiveError, match=r"no manifest\.json"):
        read_archive(tmp_path, [], None)
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "manifest.json").write_text('{"entries": 3}')
    with pytest.raises(ArchiveError, match="cannot be read"):
        read_archive(tmp_path, [], None)


def test_secrets_appear_nowhere(sim_factory, tmp_path):
    password = "Pa55-w0rd-never-shown"
    fleet = Fleet.generate(servers=20, executions_per_server=3, seed=47)
    faults = FaultConfig(token_ttl_requests=10, error_rate=0.1, malformed_rate=0.05, seed=5)
    sim = sim_factory(fleet, faults, user="auditor", password=password)
    credentials = Credentials("auditor", password)

    raw: list[str] = []  # the log without redaction: secrets must not even reach it
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: raw.append(logging.Formatter().format(record))
    logger = logging.getLogger("reporter")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        targets = [*targets_for(fleet.executions), Target("OSD", "NOSUCH", "VA1-9", 500)]
        result, _ = fetch_into(tmp_path, sim, targets, credentials=credentials, retries=8)
        with pytest.raises(AuthenticationError) as refused:
            PatchingClient(
                sim.api_url, sim.login_url, Credentials("auditor", "wrong-" + password)
            ).login()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    tokens = sim.issued_tokens
    assert len(tokens) >= 5 and result.stats.relogins >= 4
    secrets = [password, *tokens]
    texts = [
        *raw,
        str(refused.value),
        repr(credentials),
        repr(PatchingClient(sim.api_url, sim.login_url, credentials)),
        repr(result),
    ]
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(files) > len(fleet.executions)
    for secret in secrets:
        assert not any(secret in text for text in texts)
        encoded = secret.encode()
        assert not any(encoded in path.read_bytes() for path in files)


def test_atomic_write_bytes_writes_whole_files_only(tmp_path):
    target = tmp_path / "new" / "folder" / "body.json"
    atomic_write_bytes(target, b'{"a": 1}', fsync=False)
    atomic_write_bytes(target, b'{"a": 2}')
    assert target.read_bytes() == b'{"a": 2}'
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b'{"a": 2}'
    assert [path.name for path in target.parent.iterdir()] == ["body.json"]
