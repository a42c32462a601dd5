"""PDF benchmark (SPEC 8): the 1,000- and 2,500-server months, the appendix's rows/s, and the
worst-case payloads.

    python benchmarks/bench_pdf.py [--servers 1000] [--detail-servers 150 --patches 20]

1. A 1,000-server month with detail="none" (summary, failures, servers): target <= 6 s; the
   2,500-server month: <= 12 s and <= 110 pages. Wall and CPU seconds (this process and the
   workers it waited for), and the load average.
2. The appendix: rows/s = appendix rows / (time with detail="all" - time with detail="none")
   for the parallel path, and for the one-process path (the baseline) in the same run.
   Target >= 250 rows/s. Also, for information, the appendix laid out in parts in this
   process: what a platform without fork (or a failed pool) gets.
3. The same month with a failed patch whose title is one 1 MiB word (SPEC 7: cut in every
   cell), against the month without it: target <= 2 x.
4. The worst-case payloads through ``reporter run --format pdf`` against the simulator: a
   fleet whose inventory adds a failed patch with a 20,000-character unbreakable title and one
   execution of 10,000 patches lacking every field, against the same run without those two
   rows (same simulator, same process): target <= 2 x.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories import make_model
from figures import Figure
from pypdf import PdfReader

from reporter.render import pdf as pdf_module
from reporter.render import pdf_appendix
from reporter.render.pdf import render_pdf

CPU: dict[str, float] = {}
HOSTILE_TITLE = "Z" * 2**20  # one 1 MiB word


def with_hostile_title(model):
    """``model`` with :data:`HOSTILE_TITLE` as the first title of every table showing titles."""
    for name in ("patches", "failed", "failure_summary", "patch_rollup"):
        frame = getattr(model, name)
        titles = frame["title"].astype(object)
        titles.iloc[0] = HOSTILE_TITLE
        setattr(model, name, frame.assign(title=titles))
    return model


def in_one_process(render: Callable[[], float]) -> float:
    """``render()`` with the appendix laid out in parts, all in this process (no fork)."""
    workers = pdf_appendix.pool_workers
    pdf_appendix.pool_workers = lambda: 0
    try:
        return render()
    finally:
        pdf_appendix.pool_workers = workers


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the appendix workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def month(servers: int, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds, and the pages, of the ``servers``-server month's PDF."""
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed(make_model(servers=4), folder, "warm.pdf")  # imports, fonts
        model = make_model(servers=servers)
        for _ in range(repeats):
            walls.append(timed(model, folder, "month.pdf"))
            cpus.append(CPU["month.pdf"])
        pages = len(PdfReader(folder / "month.pdf").pages)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "pages": pages}


HOSTILE_SERVER = "VA1OSDHOST01"


def hostile_bodies() -> dict[str, bytes]:
    """The two worst-case execution payloads, by execution ID."""
    import json

    def execution(execution_id: str, patches: list[dict]) -> bytes:
        return json.dumps(
            {
                "execution_id": execution_id,
                "status": "completed",
                "start_time": "2026-10-14T03:00:00Z",
                "end_time": "2026-10-14T03:10:00Z",
                "duration": "10m 0s",
                "patches": patches,
            }
        ).encode()

    title = {
        "patch_begin_message": "Installing " + "Z" * 20_000,
        "patch_end_message": "Result Code: 4",
        "status": "failed",
        "start_time": "2026-10-14T03:00:00Z",
        "end_time": "2026-10-14T03:05:00Z",
    }
    return {
        "VA1-900001": execution("VA1-900001", [title]),
        "VA1-900002": execution("VA1-900002", [{} for _ in range(10_000)]),
    }


def hostile_run(servers: int, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds of ``reporter run --format pdf`` with and without the two
    worst-case executions, on one simulator in this process (runs alternate)."""
    import io
    import os as os_module

    from reporter.cli import main
    from reporter.simulator import Fleet, SimulatorServer

    fleet = Fleet.generate(servers=servers, executions_per_server=1, seed=4)
    bodies = hostile_bodies()
    for execution_id, body in bodies.items():
        fleet.override("OSD", HOSTILE_SERVER, execution_id, body, 200, "application/json")
    walls: dict[str, list[float]] = {"plain": [], "hostile": []}
    cpus: dict[str, list[float]] = {"plain": [], "hostile": []}
    saved = {key: os_module.environ.get(key) for key in ("CLC_USER", "CLC_PASSWORD")}
    os_module.environ.update({"CLC_USER": "demo", "CLC_PASSWORD": "demo"})
    try:
        with tempfile.TemporaryDirectory() as tmp, SimulatorServer(fleet) as sim:
            folder = Path(tmp)
            plain = folder / "plain.csv"
            fleet.write_inventory(plain)
            hostile = folder / "hostile.csv"
            extra = [f"{HOSTILE_SERVER},{execution_id},OSD" for execution_id in bodies]
            hostile.write_text(
                plain.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(extra) + "\n",
                encoding="utf-8",
            )
            runs = 0
            for _ in range(repeats + 1):  # the first pair warms up imports and fonts
                for name, inventory in (("plain", plain), ("hostile", hostile)):
                    runs += 1
                    argv = ["run", str(inventory), "--out", str(folder / f"out{runs}")]
                    argv += ["--format", "pdf", "--no-history", "--no-completeness-check"]
                    argv += ["--api-url", sim.api_url, "--login-url", sim.login_url]
                    cpu, start = cpu_seconds(), time.perf_counter()
                    code = main(argv, stdout=io.StringIO())
                    if code not in (0, 3):
                        raise RuntimeError(f"reporter run ({name}) exited {code}")
                    walls[name].append(time.perf_counter() - start)
                    cpus[name].append(cpu_seconds() - cpu)
    finally:
        for key, value in saved.items():
            if value is None:
                os_module.environ.pop(key, None)
            else:
                os_module.environ[key] = value
    return {
        f"{name} {kind}": statistics.median(values[1:])
        for name in walls
        for kind, values in (("wall", walls[name]), ("cpu", cpus[name]))
    }


def timed(model, folder: Path, name: str, **options) -> float:
    """Wall seconds to render ``model``; the CPU seconds go to ``CPU[name]``."""
    cpu, start = cpu_seconds(), time.perf_counter()
    render_pdf(model, folder / name, **options)
    CPU[name] = cpu_seconds() - cpu
    return time.perf_counter() - start


def measure(servers: int, detail_servers: int, patches: int, repeats: int = 1) -> dict:
    """Wall seconds (medians over ``repeats``) of the fleet PDF and of the appendix runs."""
    names = ("fleet", "hostile", "none", "all", "single", "parts")
    walls: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed(make_model(servers=4), folder, "warm.pdf")  # imports, fonts
        fleet = make_model(servers=servers)
        hostile = with_hostile_title(make_model(servers=servers))
        model = make_model(servers=detail_servers, patches_per_server=patches)
        for _ in range(repeats):
            walls["fleet"].append(timed(fleet, folder, "fleet.pdf"))
            cpus["fleet"].append(CPU["fleet.pdf"])
            walls["hostile"].append(timed(hostile, folder, "hostile.pdf"))
            walls["none"].append(timed(model, folder, "none.pdf"))
            walls["all"].append(timed(model, folder, "all.pdf", detail="all"))
            for name in ("hostile", "none", "all"):
                cpus[name].append(CPU[f"{name}.pdf"])
            threshold = pdf_module.PARALLEL_ROWS
            pdf_module.PARALLEL_ROWS = sys.maxsize  # the one-process path, as the baseline
            try:
                walls["single"].append(timed(model, folder, "single.pdf", detail="all"))
            finally:
                pdf_module.PARALLEL_ROWS = threshold
            walls["parts"].append(
                in_one_process(lambda: timed(model, folder, "parts.pdf", detail="all"))
            )
            cpus["single"].append(CPU["single.pdf"])
            cpus["parts"].append(CPU["parts.pdf"])
    result = {name: statistics.median(values) for name, values in walls.items()}
    result |= {f"{name} cpu": statistics.median(values) for name, values in cpus.items()}
    result["rows"] = len(model.patches)
    return result


def run(quick: bool) -> list[Figure]:
    """The SPEC 8 PDF figures: the 1,000- and 2,500-server months, the appendix rows/s against
    one process, and the worst-case payloads against the same run without them."""
    servers, detail_servers, repeats = (200, 50, 1) if quick else (1000, 150, 3)
    m = measure(servers, detail_servers, 20, repeats)
    parallel = m["rows"] / max(m["all"] - m["none"], 1e-9)
    single = m["rows"] / max(m["single"] - m["none"], 1e-9)
    parts = m["rows"] / max(m["parts"] - m["none"], 1e-9)
    hostile = m["hostile"] / max(m["fleet"], 1e-9)
    big_servers, big_repeats = (500, 1) if quick else (2500, 3)
    big = month(big_servers, big_repeats)
    worst = hostile_run(40 if quick else 250, 1 if quick else 3)
    worst_ratio = worst["hostile wall"] / max(worst["plain wall"], 1e-9)
    return [
        Figure(
            "pdf",
            f"{servers:,}-server month (summary, failures, servers)",
            m["fleet"],
            "s",
            target="<= 6 s at 1,000 servers",
            passed=m["fleet"] <= 6 if servers >= 1000 else None,
            repeats=repeats,
            cpu=m["fleet cpu"],
        ),
        Figure(
            "pdf",
            f"{big_servers:,}-server month: time",
            big["wall"],
            "s",
            target="<= 12 s at 2,500 servers",
            passed=big["wall"] <= 12 if big_servers >= 2500 else None,
            repeats=big_repeats,
            cpu=big["cpu"],
        ),
        Figure(
            "pdf",
            f"{big_servers:,}-server month: pages (the test factory's model)",
            big["pages"],
            "pages",
            note="the factory's fleet is nearly all compliant, so its non-compliant table is "
            "short: the e2e row '10,000 executions: PDF pages' (the simulator's "
            "2,500 servers) is the one judged against <= 110 pages",
        ),
        Figure(
            "pdf",
            f"patch-detail appendix, {m['rows']:,} rows",
            parallel,
            "rows/s",
            single,
            "one process",
            ">= 250 rows/s",
            parallel >= 250,
            repeats,
            note="appendix rows / (time with detail=all - time with detail=none); the "
            "parallel path uses 2 worker processes, so it needs 2 free cores",
            cpu=m["all cpu"],
        ),
        Figure(
            "pdf",
            f"patch-detail appendix in parts, one process (no fork), {m['rows']:,} rows",
            parts,
            "rows/s",
            single,
            "one piece, one process",
            repeats=repeats,
            note="where fork is missing or unsafe, or the worker pool fails",
            cpu=m["parts cpu"],
        ),
        Figure(
            "pdf",
            f"{servers:,}-server month with a 1 MiB patch title",
            hostile,
            "x",
            target="<= 2 x the month without it",
            passed=hostile <= 2,
            repeats=repeats,
            note=f"{m['hostile']:.2f} s against {m['fleet']:.2f} s; the title is cut at "
            "300 characters in every HTML and PDF cell",
            cpu=m["hostile cpu"],
        ),
        Figure(
            "pdf",
            "worst-case payloads: `reporter run --format pdf`, a 20,000-character title and "
            "an execution of 10,000 empty patches",
            worst["hostile wall"],
            "s",
            worst["plain wall"],
            "the same run without them",
            "<= 2x the same run without them",
            worst_ratio <= 2,
            1 if quick else 3,
            note=f"whole run (fetch, model, PDF) of a {40 if quick else 250}-server fleet "
            f"with and without the two executions, in this process; CPU {worst['hostile cpu']:.2f} "
            f"s against {worst['plain cpu']:.2f} s",
            cpu=worst["hostile cpu"],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--detail-servers", type=int, default=150)
    parser.add_argument("--patches", type=int, default=20, help="patches per server")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed(make_model(servers=4), folder, "warm.pdf")  # imports, fonts
        print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")

        fleet = make_model(servers=args.servers)
        seconds = timed(fleet, folder, "fleet.pdf")
        verdict = "ok" if seconds <= (6 if args.servers <= 1000 else 12) else "SLOW"
        pages = len(PdfReader(folder / "fleet.pdf").pages)
        print(
            f"{args.servers}-server month, detail=none: {seconds:6.2f} s"
            f" (CPU {CPU['fleet.pdf']:.2f} s; target: {verdict}), {pages} pages"
            + (f" (<= 110: {'ok' if pages <= 110 else 'TOO MANY'})" if args.servers >= 2500 else "")
        )
        hostile = timed(with_hostile_title(make_model(servers=args.servers)), folder, "h.pdf")
        verdict = "ok" if hostile <= 2 * seconds else "SLOW"
        print(f"  with a 1 MiB patch title: {hostile:6.2f} s (<= 2 x: {verdict})")

        model = make_model(servers=args.detail_servers, patches_per_server=args.patches)
        rows = len(model.patches)
        base = timed(model, folder, "none.pdf")
        parallel = timed(model, folder, "all.pdf", detail="all")
        threshold = pdf_module.PARALLEL_ROWS
        pdf_module.PARALLEL_ROWS = sys.maxsize  # the one-process path, as the baseline
        try:
            single = timed(model, folder, "single.pdf", detail="all")
        finally:
            pdf_module.PARALLEL_ROWS = threshold
        parts = in_one_process(lambda: timed(model, folder, "parts.pdf", detail="all"))
        print(f"appendix of {rows:,} rows (body alone {base:.2f} s):")
        runs = (
            ("one process (baseline)", single, "single.pdf"),
            ("in parts, one process", parts, "parts.pdf"),
            ("parallel", parallel, "all.pdf"),
        )
        for name, total, file in runs:
            rate = rows / max(total - base, 1e-9)
            cpu = CPU[file] - CPU["none.pdf"]
            print(f"  {name:24s} {total:6.2f} s  {rate:7.0f} rows/s  (appendix CPU {cpu:.1f} s)")
        rate = rows / max(parallel - base, 1e-9)
        print(
            f"  target >= 250 rows/s: {'ok' if rate >= 250 else 'SLOW'};"
            f" speed-up x{(single - base) / max(parallel - base, 1e-9):.2f}"
        )
        # On a busy machine the workers wait for a core; from the CPU seconds, what idle cores
        # give: the body alone takes its CPU time, the parallel run its CPU time spread evenly.
        cores = os.cpu_count() or 1
        body = CPU["none.pdf"]
        for name, file, spread in (
            ("one process", "single.pdf", 1),
            ("parallel", "all.pdf", cores),
        ):
            idle = CPU[file] / spread - body
            print(f"  {name} on idle cores (from CPU time): {rows / max(idle, 1e-9):.0f} rows/s")
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
