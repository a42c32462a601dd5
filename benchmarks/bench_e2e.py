"""End to end (SPEC 8 scale): ``reporter run`` on a simulated fleet, every format, timed.

The simulator runs in its own process (``reporter simulate --port 0``, or this script's
``--serve`` mode when the fleet gets extra patches), so client and server do not share a GIL.
``reporter run`` runs as a child process with ``--timings``; its peak RSS comes from
``os.wait4`` (the kernel's high-water mark of that process, as ``/usr/bin/time -v`` reports),
taken in a small parent process (see ``MEASURED_RUN``).

    python benchmarks/bench_e2e.py                       # 10,000 executions, median of 3
    python benchmarks/bench_e2e.py --patches 15          # ~150,000 patch attempts instead
    python benchmarks/bench_e2e.py --growth              # 156, 625, 2,500 servers per stage
    python benchmarks/bench_e2e.py --servers 156 --repeats 1 --format csv

Targets (issue table, SPEC 8): a 10,000-execution fleet with every format, history and the
completeness check on (their defaults; the history file is a fresh one in the output folder),
``--concurrency 16``: <= 35 s wall and <= 1.2 GB peak RSS of the reporter process, with the
history store and completeness check under 5% of it (their stages, timed in the same runs);
100,000 executions (25,000 servers), every format: <= 5 min and <= 2.5 GB. Every figure
carries the run's CPU seconds (user + system of the reporter process and its children, from
``os.wait4``) and the load average.
"""

import argparse
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from figures import Figure, load_average, number, table

TARGET_SECONDS = 35  # 10,000 executions
TARGET_RSS_MB = 1200
BIG_TARGET_SECONDS = 300  # 100,000 executions
BIG_TARGET_RSS_MB = 2560
OVERHEAD_SHARE = 0.05  # history store + completeness check, of the 10,000-execution run
OVERHEAD_STAGES = ("history", "completeness")
FORMATS = "csv,xlsx,pdf,html"
GROWTH_SERVERS = (156, 625, 2500)
MEASURED: dict[tuple, tuple["Outcome", list["Outcome"], int]] = {}
# Runs a command and writes its peak RSS (KiB, as Linux reports it) and wall seconds. Linux
# starts a process's peak RSS from its parent's at exec: a small parent keeps the figure the
# command's own, however big the benchmark process has grown.
MEASURED_RUN = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as handle:
    handle.write(f"{usage.ru_maxrss} {wall} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Outcome:
    """One ``reporter run``: wall seconds, peak RSS, seconds per stage, what it reported."""

    wall_s: float
    peak_rss_mb: float
    stages: dict[str, float]
    executions: int
    patch_rows: int
    exit_code: int
    load: float = field(default_factory=load_average)
    bare_fetch_s: float | None = None
    cpu_s: float | None = None
    pdf_pages: int | None = None


class Simulator:
    """A simulator in a child process serving ``servers`` x 4 executions on a free port.

    With ``patches`` (mean patches per execution), the fleet gets extra patch attempts (see
    :func:`pad_patches`); the simulator's own defaults stay as they are.
    """

    def __init__(
        self, folder: Path, servers: int, patches: float | None = None, latency_ms: float = 0
    ) -> None:
        self.inventory = folder / f"inventory-{servers}.csv"
        if patches is None:
            command = [sys.executable, "-m", "reporter", "simulate", "--port", "0"]
            command += ["--latency-ms", str(latency_ms)] if latency_ms else []
        else:
            command = [sys.executable, __file__, "--serve", "--patches", str(patches)]
        command += ["--servers", str(servers), "--inventory", str(self.inventory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
        )
        self.api_url = self.login_url = ""
        self.patches = 0
        for line in self.process.stdout:
            if match := re.search(r"executions, (\d+) patches", line):
                self.patches = int(match.group(1))
            if line.startswith("Patching API:"):
                self.api_url = line.split()[-1]
            if line.startswith("Login API:"):
                self.login_url = line.split()[-1]
                break
        if not self.login_url:
            self.close()
            raise RuntimeError("the simulator did not start")

    def close(self) -> None:
        """Stop the simulator and wait for it.

        SIGTERM, not Ctrl-C: a shell starts background jobs with SIGINT ignored, and the
        simulator would inherit that from a benchmark run in the background.
        """
        self.process.stdin.close()  # the --serve mode ends on end of input
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def pad_patches(fleet, mean: float, seed: int = 1) -> None:
    """Give the fleet's executions more patch attempts, about ``mean`` per execution overall.

    Each execution that has patches gets extra ones in proportion to what it has: titles it
    does not have yet, from other executions on the same kind of OS, with the status, result
    message and times of one of its own patches (so pending stays pending and the share of
    failures stays what the simulator drew).
    """
    from reporter.simulator import SimPatch

    rng = random.Random(seed)
    current = sum(len(e.patches) for e in fleet.executions) / len(fleet.executions)
    factor = mean / current
    pools: dict[bool, list[str]] = {True: [], False: []}
    for execution in fleet.executions:
        pools[execution.windows].extend(patch.title for patch in execution.patches)
    pools = {kind: sorted(set(titles)) for kind, titles in pools.items()}
    for execution in fleet.executions:
        have = {patch.title for patch in execution.patches}
        pool = [title for title in pools[execution.windows] if title not in have]
        wanted = round(len(execution.patches) * factor) - len(execution.patches)
        extra = []
        for title in rng.sample(pool, min(max(wanted, 0), len(pool))):
            model = rng.choice(execution.patches)
            extra.append(SimPatch(title, model.start, model.end, model.status, model.end_message))
        execution.patches.extend(extra)


def serve(servers: int, patches: float, inventory: Path) -> None:
    """``--serve``: generate, pad and serve a fleet until stdin closes (or a signal)."""
    from reporter.simulator import Fleet, SimulatorServer

    fleet = Fleet.generate(servers=servers, executions_per_server=4, seed=1)
    pad_patches(fleet, patches)
    fleet.write_inventory(inventory)
    total = sum(len(execution.patches) for execution in fleet.executions)
    with SimulatorServer(fleet, port=0) as sim:
        print(f"simulating {servers} servers, {len(fleet.executions)} executions, {total} patches")
        print(f"Patching API: {sim.api_url}")
        print(f"Login API:    {sim.login_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            sys.stdin.read()  # returns when the parent closes the pipe (or dies)


def reporter_run(
    sim: Simulator,
    out: Path,
    formats: str = FORMATS,
    concurrency: int = 16,
    extra: tuple[str, ...] = (),
) -> Outcome:
    """Run ``reporter run`` on the simulator's inventory into ``out`` (which must not exist),
    with the ``extra`` options."""
    command = [
        sys.executable,
        "-m",
        "reporter",
        "run",
        str(sim.inventory),
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
        "--timings",
        *extra,
    ]
    env = {**os.environ, "CLC_USER": "demo", "CLC_PASSWORD": "demo"}
    log, usage = out.with_suffix(".log"), out.with_suffix(".usage")
    with log.open("w") as handle:
        code = subprocess.run(
            [sys.executable, "-c", MEASURED_RUN, str(usage), *command],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        ).returncode
    text = log.read_text()
    if code not in (0, 3):  # 3: reports written, some inventory rows listed as problems
        raise RuntimeError(f"reporter run exited {code}:\n{text[-2000:]}")
    maxrss_kib, wall, cpu = (float(value) for value in usage.read_text().split())
    stages = {
        match.group(1): float(match.group(2))
        for match in re.finditer(r"^  (\S+)\s+([\d.]+) s$", text, re.MULTILINE)
        if match.group(1) != "total"
    }
    counts = re.search(r"([\d,]+) executions, ([\d,]+) patch attempts", text)
    executions, rows = (int(group.replace(",", "")) for group in counts.groups())
    pages = None
    if pdfs := sorted(out.glob("patch-compliance-*.pdf")):
        from pypdf import PdfReader

        pages = len(PdfReader(pdfs[0]).pages)
    return Outcome(
        wall, maxrss_kib / 1024, stages, executions, rows, code, cpu_s=cpu, pdf_pages=pages
    )


def bare_fetch_seconds(sim: Simulator, concurrency: int = 16) -> float:
    """Seconds a bare requests thread pool takes for the run's requests (the fetch baseline).

    One GET per inventory row: the execution's detail, or the server's summary when the row
    names no execution (the run then also fetches the latest execution's detail, so the
    baseline does slightly less than the run). Bodies are decoded, nothing is written.
    """
    import csv
    import json
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from requests.adapters import HTTPAdapter

    with sim.inventory.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    urls = []
    for row in rows:
        base = f"{sim.api_url}/servers/{(row['account_alias'] or 'OSD').upper()}"
        path = f"/server/{row['server_id']}/patch"
        urls.append(base + path + (f"/{row['execution_id']}" if row["execution_id"] else ""))
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=concurrency))
    token = session.post(
        sim.login_url, json={"username": "demo", "password": "demo"}, timeout=30
    ).json()["bearerToken"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def get(url: str) -> object:
        response = session.get(url, headers=headers, timeout=30)
        return json.loads(response.content) if response.status_code == 200 else None

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, urls))
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


def measure(
    servers: int,
    repeats: int,
    patches: float | None = None,
    formats: str = FORMATS,
    concurrency: int = 16,
) -> tuple[Outcome, list[Outcome], int]:
    """(median outcome, every outcome, patches the simulator serves) for one fleet size.

    The median outcome has the median wall time, median peak RSS and median stage times.
    A size measured before in this process is not measured again.
    """
    key = (servers, repeats, patches, formats, concurrency)
    if key in MEASURED:
        return MEASURED[key]
    outcomes, bare = [], []
    with (
        tempfile.TemporaryDirectory(prefix="reporter-e2e-") as folder,
        Simulator(Path(folder), servers, patches) as sim,
    ):
        bare_fetch_seconds(sim, concurrency)  # warm-up: the simulator encodes bodies once
        for repeat in range(repeats):
            outcome = reporter_run(sim, Path(folder) / f"out{repeat}", formats, concurrency)
            outcomes.append(outcome)
            bare.append(bare_fetch_seconds(sim, concurrency))
            print(
                f"  e2e {servers} servers, run {repeat + 1}: {outcome.wall_s:.1f} s, "
                f"{outcome.peak_rss_mb:,.0f} MB, CPU {outcome.cpu_s:.1f} s, "
                f"bare fetch {bare[-1]:.1f} s, "
                f"load {outcome.load:.1f}",
                file=sys.stderr,
                flush=True,
            )
        served = sim.patches
    stages = {
        name: statistics.median(o.stages.get(name, 0.0) for o in outcomes)
        for name in outcomes[0].stages
    }
    middle = Outcome(
        statistics.median(o.wall_s for o in outcomes),
        statistics.median(o.peak_rss_mb for o in outcomes),
        stages,
        outcomes[0].executions,
        outcomes[0].patch_rows,
        outcomes[0].exit_code,
        statistics.median(o.load for o in outcomes),
        statistics.median(bare),
        statistics.median(o.cpu_s or 0.0 for o in outcomes),
        outcomes[0].pdf_pages,
    )
    MEASURED[key] = middle, outcomes, served
    return MEASURED[key]


def figures_for(
    label: str,
    outcome: Outcome,
    repeats: int,
    served: int,
    seconds: float | None = TARGET_SECONDS,
    rss_mb: float | None = TARGET_RSS_MB,
) -> list[Figure]:
    """Wall time and peak RSS against the targets (None: for information), the history store
    and completeness check's share, and each stage's seconds for information."""
    rows = f"{outcome.executions:,} executions reported, {outcome.patch_rows:,} patch rows"
    result = [
        Figure(
            "e2e",
            f"{label}: wall",
            outcome.wall_s,
            "s",
            target=f"<= {seconds:g} s" if seconds else "",
            passed=outcome.wall_s <= seconds if seconds else None,
            repeats=repeats,
            note=f"{label}: {rows} (the simulator serves {served:,} patches; the "
            "inventory lists servers without an execution ID, for which only the latest "
            "execution is reported, and unknown executions, which become problems)",
            load=outcome.load,
            cpu=outcome.cpu_s,
        ),
        Figure(
            "e2e",
            f"{label}: peak RSS of reporter",
            outcome.peak_rss_mb,
            "MB",
            target=f"<= {rss_mb:,g} MB" if rss_mb else "",
            passed=outcome.peak_rss_mb <= rss_mb if rss_mb else None,
            repeats=repeats,
            load=outcome.load,
            cpu=outcome.cpu_s,
        ),
    ]
    if outcome.pdf_pages is not None:
        judged = label.startswith("10,000 executions")  # 2,500 servers
        result.append(
            Figure(
                "e2e",
                f"{label}: PDF pages",
                outcome.pdf_pages,
                "pages",
                target="<= 110 pages at 2,500 servers" if judged else "",
                passed=outcome.pdf_pages <= 110 if judged else None,
                load=outcome.load,
            )
        )
    for name, stage_seconds in outcome.stages.items():
        if name == "fetch":
            result.append(
                Figure(
                    "e2e",
                    f"{label}: stage fetch",
                    stage_seconds,
                    "s",
                    outcome.bare_fetch_s,
                    "bare pool",
                    repeats=repeats,
                    note="fetch stage against a bare requests pool (same concurrency) making the "
                    "same requests to the same simulator right after the run, writing nothing; "
                    "the stage also writes every body and the manifest to the evidence folder",
                    load=outcome.load,
                )
            )
            continue
        stage = f"{label}: stage {name}"
        result.append(Figure("e2e", stage, stage_seconds, "s", repeats=repeats, load=outcome.load))
    return result


def overhead_figure(label: str, outcome: Outcome, repeats: int, judged: bool) -> Figure:
    """The history store and completeness check's share of the run's wall time."""
    spent = sum(outcome.stages.get(name, 0.0) for name in OVERHEAD_STAGES)
    share = 100 * spent / max(outcome.wall_s, 1e-9)
    parts = ", ".join(f"{name} {outcome.stages.get(name, 0.0):.2f} s" for name in OVERHEAD_STAGES)
    return Figure(
        "e2e",
        f"{label}: history store + completeness check",
        share,
        "% of wall",
        target=f"< {OVERHEAD_SHARE:.0%} of the run",
        passed=share < 100 * OVERHEAD_SHARE if judged else None,
        repeats=repeats,
        note=f"{parts} of {outcome.wall_s:.1f} s (their --timings stages in the same runs; "
        "the history stage counts the trend read and the period recorded)",
        load=outcome.load,
    )


def run(quick: bool, repeats: int = 3) -> list[Figure]:
    """The end-to-end figures: 10,000 executions (median of ``repeats``), ~150,000 attempts and
    100,000 executions (one run each); ``quick``: 156 and 625 servers, targets not judged."""
    if quick:
        figures = []
        for servers in (156, 625):
            outcome, _, served = measure(servers, 1)
            label = f"{servers * 4:,} executions (quick)"
            figures += figures_for(label, outcome, 1, served, None, None)
            figures.append(overhead_figure(label, outcome, 1, judged=False))
        return figures
    outcome, _, served = measure(2500, repeats)
    figures = figures_for("10,000 executions", outcome, repeats, served)
    figures.append(overhead_figure("10,000 executions", outcome, repeats, judged=True))
    outcome, _, served = measure(2500, 1, patches=15)
    figures += figures_for("10,000 executions, ~15 patches each", outcome, 1, served)
    outcome, _, served = measure(25_000, 1, concurrency=32)
    figures += figures_for(
        "100,000 executions", outcome, 1, served, BIG_TARGET_SECONDS, BIG_TARGET_RSS_MB
    )
    return figures


def growth(repeats: int = 3, sizes: tuple[int, ...] = GROWTH_SERVERS) -> str:
    """Each stage's seconds and the peak RSS at 1x, 4x and 16x of a small fleet, as a table."""
    results = [(servers, *measure(servers, repeats)) for servers in sizes]
    stages = list(results[-1][1].stages)
    header = ["servers", "executions", "patch rows", *stages, "wall s", "peak MB", "load"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for servers, outcome, _, _ in results:
        cells = [f"{servers:,}", f"{outcome.executions:,}", f"{outcome.patch_rows:,}"]
        cells += [number(outcome.stages.get(name, 0.0)) for name in stages]
        cells += [number(outcome.wall_s), f"{outcome.peak_rss_mb:,.0f}", f"{outcome.load:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    first, last = results[0][1], results[-1][1]
    scale = last.patch_rows / first.patch_rows
    ratios = [
        f"{name} x{last.stages[name] / first.stages[name]:.1f}"
        for name in stages
        if first.stages.get(name, 0) >= 0.05
    ]
    lines.append(
        f"\n{scale:.1f}x the patch rows cost: "
        + ", ".join(ratios)
        + f"; wall x{last.wall_s / first.wall_s:.1f}; "
        + f"peak RSS x{last.peak_rss_mb / first.peak_rss_mb:.1f} (median of {repeats})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=2500, help="servers x 4 executions")
    parser.add_argument("--patches", type=float, help="mean patches per execution (padded)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", default=FORMATS)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--growth", action="store_true", help="the 1x/4x/16x table instead")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.servers, args.patches, args.inventory)
        return 0
    if args.growth:
        print(growth(args.repeats))
        return 0
    outcome, _, served = measure(
        args.servers, args.repeats, args.patches, args.format, args.concurrency
    )
    label = f"{args.servers:,} servers x 4"
    big = args.servers >= 25_000  # 100,000 executions: the targets of that size
    seconds, rss_mb = (BIG_TARGET_SECONDS, BIG_TARGET_RSS_MB) if big else (None, None)
    if args.servers == 2500:
        seconds, rss_mb = TARGET_SECONDS, TARGET_RSS_MB
    figures = figures_for(label, outcome, args.repeats, served, seconds, rss_mb)
    print(table([*figures, overhead_figure(label, outcome, args.repeats, judged=True)]))
    return 1 if any(figure.passed is False for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
