"""The output folder: one run at a time, a file named as --out, and a disk that fills up."""

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reporter import outfolder
from reporter.cli import main
from reporter.errors import OutputError, UsageError
from reporter.outfolder import LOCK_NAME, claim_output_folder
from reporter.simulator import Fleet


def inventory_of(fleet: Fleet, path: Path) -> Path:
    path.write_text(
        "server_id\n" + "".join(f"{server.server_id}\n" for server in fleet.servers),
        encoding="utf-8",
    )
    return path


def run_args(sim, inventory: Path, out: Path, *extra: str) -> list[str]:
    return [
        "run",
        str(inventory),
        "--out",
        str(out),
        "--api-url",
        sim.api_url,
        "--login-url",
        sim.login_url,
        *extra,
    ]


def test_a_second_run_into_a_held_folder_exits_2_naming_the_holder(
    tmp_path, sim_factory, credentials, monkeypatch, capsys
):
    fleet = Fleet.generate(servers=2, executions_per_server=1, seed=5)
    sim = sim_factory(fleet)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("the first run's file\n")
    # The holder is another process, as it would be: it locks the folder and waits.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from reporter.outfolder import claim_output_folder
                with claim_output_folder({str(out)!r}):
                    print("held", flush=True)
                    sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(outfolder, "LOCK_WAIT_SECONDS", 0.3)
        code = main(run_args(sim, inventory_of(fleet, tmp_path / "inv.csv"), out))
        err = capsys.readouterr().err
    finally:
        holder.communicate("")
    assert code == 2
    assert f"another reporter run is writing to {out}" in err
    assert f"process {holder.pid} on " in err
    assert sim.stats.requests == 0, "nothing may be fetched while the folder is held"
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME, "keep.txt"]
    # Once the first run is over, the folder is free again.
    assert main(run_args(sim, tmp_path / "inv.csv", out, "--format", "csv")) == 0


def test_the_lock_is_waited_for_then_refused(tmp_path):
    clock = iter(range(100))
    waited: list[float] = []
    # A second open file description of the same lock, in this process: it is refused too.
    second = claim_output_folder(
        tmp_path / "out", wait=3, clock=lambda: next(clock), sleep=waited.append
    )
    with claim_output_folder(tmp_path / "out"), pytest.raises(OutputError, match="another"):
        second.__enter__()
    assert waited == [0.2, 0.2]  # polled until the deadline, then gave up


def test_a_folder_made_for_a_run_that_wrote_nothing_is_removed(tmp_path):
    out = tmp_path / "a" / "b"
    with claim_output_folder(out):
        assert out.is_dir()
    assert not (tmp_path / "a").exists()


def test_out_naming_a_file_is_refused_before_logging_in(tmp_path, sim_factory, credentials, capsys):
    fleet = Fleet.generate(servers=1, executions_per_server=1, seed=5)
    sim = sim_factory(fleet)
    out = tmp_path / "reports"
    out.write_text("not a folder\n")
    code = main(run_args(sim, inventory_of(fleet, tmp_path / "inv.csv"), out))
    assert code == 2
    assert f"--out {out} is a file, not a folder" in capsys.readouterr().err
    assert sim.stats.logins == 0 and sim.stats.requests == 0


def test_out_below_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        claim_output_folder(tmp_path / "file" / "out").__enter__()


@pytest.mark.skipif(not hasattr(os, "setrlimit") and sys.platform != "linux", reason="POSIX")
def test_a_file_size_limit_while_writing_reports_is_one_line_and_exit_2(
    tmp_path, sim_factory, credentials
):
    fleet = Fleet.generate(servers=6, executions_per_server=2, seed=5)
    sim = sim_factory(fleet)
    out = tmp_path / "out"
    argv = run_args(sim, inventory_of(fleet, tmp_path / "inv.csv"), out, "--format", "html")
    # The evidence bodies are small; the HTML report is not: the limit stops it half-way.
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        from reporter.cli import main
        sys.exit(main({argv!r}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    html = next(iter(out.glob("*.html")), None)
    assert html is None, "no half-written report"
    assert not list(out.rglob("*.part")), "no temporary file left behind"
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"reporter: error: cannot write {out}/patch-compliance-")
    assert line.endswith(".html: the file size limit was reached")
    assert "Traceback" not in done.stderr


def test_run_output_unchanged_by_the_lock(tmp_path, sim_factory, credentials):
    fleet = Fleet.generate(servers=2, executions_per_server=1, seed=5)
    sim = sim_factory(fleet)
    out = tmp_path / "out"
    stdout = io.StringIO()
    code = main(run_args(sim, inventory_of(fleet, tmp_path / "inv.csv"), out), stdout=stdout)
    assert code == 0, stdout.getvalue()
    assert (out / LOCK_NAME).is_file() and not (out / LOCK_NAME).read_text().count("\n") > 1
