"""Fetch speed (SPEC 8): PatchingClient against a bare requests thread pool and one at a time.

Runs the simulator in a separate process (so it does not share this one's GIL), at 50 ms
latency, and fetches every execution of a 3,200-execution fleet:

  (a) PatchingClient at concurrency 32, without evidence and with evidence in a temp folder;
  (b) a bare loop: one Session, HTTPAdapter pool 32, ThreadPoolExecutor(32), json.loads;
  (c) one request at a time over a sample of 100 executions, extrapolated.

Prints executions/s (median of the repeats) and the ratios a/b (target >= 0.9) and a/c
(target >= 25); ``run(quick)`` returns them as figures for ``run_all.py``, with two of the
simulator itself (no target; the test suite once asserted them): how long a 10,000-execution
fleet takes to generate, and requests/s over one keep-alive connection without latency.

The whole-process row (issue table): ``reporter run INVENTORY --format csv --no-history
--no-completeness-check --concurrency 32`` as a process of its own, start-up and imports
included, against a bare requests thread-pool script also run as a process of its own, on
the same ~3,200-row inventory of a simulator at 50 ms latency (SPEC 9: the bare script keeps
no history and checks nothing, hence those two options). Runs alternate; medians of the
repeats; each with its CPU seconds (``os.wait4``). Target: the bare script's wall time /
reporter's >= 0.9. Usage::

    python benchmarks/bench_fetch.py            # the full run (a few minutes)
    python benchmarks/bench_fetch.py --quick    # 400 executions, one repeat
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from figures import Figure
from requests.adapters import HTTPAdapter

from reporter.fetch import Credentials, EvidenceStore, PatchingClient
from reporter.records import Target

# The bare script of the whole-process row: read the inventory, log in, GET every row's
# execution (or the server's summary when the row has none) from a thread pool, decode it.
BARE_SCRIPT = """
import csv, json, sys
from concurrent.futures import ThreadPoolExecutor
import requests
from requests.adapters import HTTPAdapter
inventory, api_url, login_url, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(inventory, newline="", encoding="utf-8") as handle:
    rows = list(csv.DictReader(handle))
urls = [
    f"{api_url}/servers/{(row['account_alias'] or 'OSD').upper()}/server/{row['server_id']}/patch"
    + (f"/{row['execution_id']}" if row["execution_id"] else "")
    for row in rows
]
session = requests.Session()
session.mount("http://", HTTPAdapter(pool_maxsize=concurrency))
login = {"username": "demo", "password": "demo"}
token = session.post(login_url, json=login, timeout=30).json()["bearerToken"]
headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
def get(url):
    response = session.get(url, headers=headers, timeout=30)
    return json.loads(response.content) if response.status_code == 200 else None
with ThreadPoolExecutor(concurrency) as pool:
    payloads = list(pool.map(get, urls))
print(len(payloads))
"""


def serve(servers: int, per_server: int, latency_ms: float, ready, stop) -> None:
    """Child process: serve the fleet until ``stop`` is set; report URL and executions."""
    from reporter.simulator import FaultConfig, Fleet, SimulatorServer

    fleet = Fleet.generate(servers=servers, executions_per_server=per_server, seed=1)
    keys = [(e.account, e.server_id, e.execution_id) for e in fleet.executions]
    with SimulatorServer(fleet, faults=FaultConfig(latency_ms=latency_ms), port=0) as sim:
        ready.put((sim.api_url, sim.login_url, keys))
        stop.wait()


def client_rate(
    api_url: str,
    login_url: str,
    targets: list[Target],
    concurrency: int,
    evidence: bool,
    evidence_dir: str | None = None,
) -> float:
    """(a) executions/s with PatchingClient (evidence in a temporary folder under evidence_dir)."""
    with tempfile.TemporaryDirectory(dir=evidence_dir) as folder:
        store = EvidenceStore(Path(folder) / "evidence") if evidence else None
        client = PatchingClient(
            api_url, login_url, Credentials("demo", "demo"), concurrency=concurrency, evidence=store
        )
        client.login()
        started = time.perf_counter()
        result = client.fetch(targets)
        if store is not None:
            store.close()
        elapsed = time.perf_counter() - started
        client.close()
    if result.problems or len(result.executions) != len(targets):
        raise SystemExit(f"PatchingClient fetch incomplete: {result.problems[:3]}")
    return len(targets) / elapsed


def bare_rate(api_url: str, token: str, urls: list[str], concurrency: int) -> float:
    """(b) executions/s with the simplest correct thread-pool loop."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=concurrency))
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def get(url: str) -> object:
        response = session.get(url, headers=headers, timeout=30)
        response.raise_for_status()
        return json.loads(response.content)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        payloads = list(pool.map(get, urls))
    elapsed = time.perf_counter() - started
    session.close()
    assert len(payloads) == len(urls)
    return len(urls) / elapsed


def serial_rate(token: str, urls: list[str]) -> float:
    """(c) executions/s one request at a time."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    started = time.perf_counter()
    for url in urls:
        response = session.get(url, headers=headers, timeout=30)
        response.raise_for_status()
        json.loads(response.content)
    elapsed = time.perf_counter() - started
    session.close()
    return len(urls) / elapsed


def measure(
    servers: int,
    repeats: int,
    concurrency: int = 32,
    latency_ms: float = 50.0,
    sample: int = 100,
    evidence_dir: str | None = None,
) -> tuple[int, dict[str, float]]:
    """Fetch a ``servers`` x 4 fleet each way ``repeats`` times; (executions, median rates)."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    child = context.Process(target=serve, args=(servers, 4, latency_ms, ready, stop))
    child.start()
    try:
        api_url, login_url, keys = ready.get(timeout=120)
        targets = [Target(alias, server, execution, None) for alias, server, execution in keys]
        urls = [f"{api_url}/servers/{a}/server/{s}/patch/{e}" for a, s, e in keys]
        token = requests.post(
            login_url, json={"username": "demo", "password": "demo"}, timeout=10
        ).json()["bearerToken"]
        bare_rate(api_url, token, urls, concurrency)  # warm-up: the simulator's caches
        rates: dict[str, list[float]] = {"a": [], "a+evidence": [], "b": [], "c": []}
        for repeat in range(repeats):
            rates["a"].append(client_rate(api_url, login_url, targets, concurrency, False))
            rates["b"].append(bare_rate(api_url, token, urls, concurrency))
            rates["a+evidence"].append(
                client_rate(api_url, login_url, targets, concurrency, True, evidence_dir)
            )
            rates["c"].append(serial_rate(token, urls[:sample]))
            print(
                f"repeat {repeat + 1}: "
                + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()),
                file=sys.stderr,
            )
    finally:
        stop.set()
        child.join(timeout=10)
    return len(targets), {name: statistics.median(values) for name, values in rates.items()}


def simulator_figures(repeats: int) -> list[Figure]:
    """The simulator's own speed: generating a 10,000-execution fleet, keep-alive answers."""
    from reporter.simulator import Fleet, SimulatorServer

    generate: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        fleet = Fleet.generate(servers=2_500, executions_per_server=4, seed=9)
        generate.append(time.perf_counter() - started)
    requests_count = 300
    rates = []
    with SimulatorServer(fleet) as sim, requests.Session() as session:
        login = {"username": "demo", "password": "demo"}
        token = session.post(sim.login_url, json=login, timeout=10).json()["bearerToken"]
        headers = {"Authorization": f"Bearer {token}"}
        urls = [
            f"{sim.api_url}/servers/{e.account}/server/{e.server_id}/patch/{e.execution_id}"
            for e in fleet.executions[:requests_count]
        ]
        for _ in range(repeats):
            started = time.perf_counter()
            for url in urls:
                session.get(url, headers=headers, timeout=10).raise_for_status()
            rates.append(requests_count / (time.perf_counter() - started))
    return [
        Figure(
            "fetch",
            "simulator: generate a 10,000-execution fleet",
            statistics.median(generate),
            "s",
            repeats=repeats,
        ),
        Figure(
            "fetch",
            f"simulator: {requests_count} requests on one keep-alive connection, no latency",
            statistics.median(rates),
            "req/s",
            repeats=repeats,
            note="the simulator in this process, sharing its GIL with the client",
        ),
    ]


def process_run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``command`` run as a process of its own, start to exit."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    errors = child.stderr.read() if child.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):  # 3: the run listed problems (unknown executions), as it should
        raise RuntimeError(f"{command[:4]} exited {code}:\n{errors[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def whole_process(servers: int, repeats: int, concurrency: int = 32) -> dict[str, float]:
    """Median wall and CPU seconds of ``reporter run --format csv`` and of the bare script, as
    whole processes, on a ``servers`` x 4 fleet at 50 ms latency (runs alternate)."""
    from bench_e2e import Simulator

    walls: dict[str, list[float]] = {"reporter": [], "bare": []}
    cpus: dict[str, list[float]] = {"reporter": [], "bare": []}
    env = {**os.environ, "CLC_USER": "demo", "CLC_PASSWORD": "demo"}
    with (
        tempfile.TemporaryDirectory(prefix="reporter-fetch-") as folder,
        Simulator(Path(folder), servers, latency_ms=50) as sim,
    ):
        bare = [sys.executable, "-c", BARE_SCRIPT, str(sim.inventory), sim.api_url]
        bare += [sim.login_url, str(concurrency)]
        process_run(bare)  # warm-up: the simulator encodes each body once
        rows = sum(1 for _ in sim.inventory.open(encoding="utf-8")) - 1
        for repeat in range(repeats):
            out = Path(folder) / f"out{repeat}"
            reporter = [sys.executable, "-m", "reporter", "run", str(sim.inventory)]
            reporter += ["--out", str(out), "--format", "csv", "--concurrency", str(concurrency)]
            reporter += ["--api-url", sim.api_url, "--login-url", sim.login_url]
            reporter += ["--no-history", "--no-completeness-check"]
            for name, command in (("reporter", reporter), ("bare", bare)):
                wall, cpu = process_run(command, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
            print(
                f"whole process, repeat {repeat + 1}: reporter {walls['reporter'][-1]:.2f} s "
                f"(CPU {cpus['reporter'][-1]:.2f}), bare {walls['bare'][-1]:.2f} s "
                f"(CPU {cpus['bare'][-1]:.2f})",
                file=sys.stderr,
                flush=True,
            )
    result = {f"{name} wall": statistics.median(v) for name, v in walls.items()}
    result |= {f"{name} cpu": statistics.median(v) for name, v in cpus.items()}
    result["rows"] = rows
    return result


def whole_process_figure(quick: bool) -> Figure:
    """The issue's whole-process row: reporter run --format csv against the bare script."""
    servers, repeats = (200, 1) if quick else (800, 3)
    m = whole_process(servers, repeats)
    ratio = m["bare wall"] / m["reporter wall"]
    return Figure(
        "fetch",
        f"`reporter run --format csv --no-history --no-completeness-check`, whole process, "
        f"{m['rows']:,} inventory rows, 50 ms latency, concurrency 32",
        m["rows"] / m["reporter wall"],
        "rows/s",
        m["rows"] / m["bare wall"],
        "bare script (whole process)",
        ">= 0.9x bare script",
        ratio >= 0.9 if not quick else None,
        repeats,
        note=f"whole processes, start to exit: reporter {m['reporter wall']:.2f} s wall, "
        f"{m['reporter cpu']:.2f} s CPU; the bare script {m['bare wall']:.2f} s wall, "
        f"{m['bare cpu']:.2f} s CPU (medians)",
        cpu=m["reporter cpu"],
    )


def run(quick: bool) -> list[Figure]:
    """The SPEC 8 fetch figures: PatchingClient against the bare pool and one at a time."""
    servers, repeats, sample = (100, 1, 30) if quick else (800, 3, 100)
    count, median = measure(servers, repeats, sample=sample)
    setting = f"{count:,} executions, 50 ms latency, concurrency 32"
    bare = "bare requests pool"
    return [
        Figure(
            "fetch",
            f"PatchingClient, {setting}",
            median["a"],
            "exec/s",
            median["b"],
            bare,
            ">= 0.9x bare pool",
            median["a"] / median["b"] >= 0.9,
            repeats,
        ),
        Figure(
            "fetch",
            "PatchingClient vs one at a time",
            median["a"],
            "exec/s",
            median["c"],
            f"serial ({sample} sampled)",
            ">= 25x serial",
            median["a"] / median["c"] >= 25,
            repeats,
        ),
        Figure(
            "fetch",
            "PatchingClient + evidence files (as `reporter run` fetches)",
            median["a+evidence"],
            "exec/s",
            median["b"],
            bare,
            ">= 0.9x bare pool",
            median["a+evidence"] / median["b"] >= 0.9,
            repeats,
            note="the bare pool writes nothing; the client also writes every body to disk "
            f"(in {tempfile.gettempdir()}) and keeps the manifest",
        ),
        whole_process_figure(quick),
        *simulator_figures(repeats),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 executions, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--sample", type=int, default=100, help="executions fetched one at a time")
    parser.add_argument(
        "--evidence-dir",
        help="where the evidence run writes (default: the system temp folder); creating "
        "thousands of small files costs what the file system makes it cost",
    )
    args = parser.parse_args(argv)
    servers, repeats, sample = (100, 1, 30) if args.quick else (800, args.repeats, args.sample)
    count, median = measure(
        servers, repeats, args.concurrency, args.latency_ms, sample, args.evidence_dir
    )
    ideal = args.concurrency / (args.latency_ms / 1000) if args.latency_ms else float("inf")
    print(
        f"fetch benchmark: {count} executions, latency {args.latency_ms:g} ms, "
        f"concurrency {args.concurrency}, median of {repeats}"
    )
    print(f"  ideal (concurrency / latency)        {ideal:8.0f} executions/s")
    print(f"  (a) PatchingClient                   {median['a']:8.0f} executions/s")
    print(f"  (a) PatchingClient + evidence        {median['a+evidence']:8.0f} executions/s")
    print(f"  (b) bare requests thread pool        {median['b']:8.0f} executions/s")
    print(f"  (c) one at a time ({sample} sampled)      {median['c']:8.0f} executions/s")
    ab, ac = median["a"] / median["b"], median["a"] / median["c"]
    abe, ace = median["a+evidence"] / median["b"], median["a+evidence"] / median["c"]
    print(f"  a/b = {ab:.2f} (target >= 0.9) {'ok' if ab >= 0.9 else 'MISSED'}")
    print(f"  a/c = {ac:.1f} (target >= 25) {'ok' if ac >= 25 else 'MISSED'}")
    where = args.evidence_dir or tempfile.gettempdir()
    print(f"  with evidence (in {where}): a/b = {abe:.2f}, a/c = {ace:.1f}")
    for figure in simulator_figures(repeats):
        print(f"  {figure.what}: {figure.value:,.2f} {figure.unit}")
    return 0 if ab >= 0.9 and ac >= 25 else 1


if __name__ == "__main__":
    sys.exit(main())
