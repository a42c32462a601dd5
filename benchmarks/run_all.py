"""Every benchmark in one run, and one table of figures against the SPEC 8 targets.

    python benchmarks/run_all.py              # the full run (about 40 minutes on 2 cores)
    python benchmarks/run_all.py --quick      # smaller sizes, a few minutes (no test suite)
    python benchmarks/run_all.py --only fetch,e2e --json figures.json

Every row of the speed issue's table is printed, with its same-run baseline where the target
is relative to one and PASS or FAIL: the whole-process fetch (`reporter run --format csv
--no-history --no-completeness-check` against a bare requests script, both whole processes),
the 1,000- and 2,500-server PDF months (time and pages), end to end at 10,000 and 100,000
executions (wall, peak RSS), the history store and completeness check's share, the test
suite, and the worst-case payload PDF against the same run without it. Beside every figure:
its CPU seconds where it was timed, and the one-minute load average. The quick run measures
smaller sizes (and one repeat): its rows are labelled with the sizes used, and targets that
hold at one size only are not judged there.

Each figure is a median over repeats (3 where affordable, 1 for the million-row model and
the ~150,000-attempt end-to-end run), beside the baseline measured in the same run where the
target is relative to one. The load average next to each figure says how busy the machine
was: the benchmarks use both cores, and anything else running slows them.

Sections: fetch (bench_fetch), model (bench_model), pdf (bench_pdf), tabular (bench_tabular:
csv, xlsx and inventory loading), e2e (bench_e2e), tests (bench_suite). The full run also
prints the end-to-end cost growth table (1x, 4x and 16x of a small fleet).
"""

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_e2e
import bench_fetch
import bench_model
import bench_pdf
import bench_suite
import bench_tabular
from figures import Figure, load_average, table

SECTIONS = {
    "fetch": bench_fetch.run,
    "model": bench_model.run,
    "pdf": bench_pdf.run,
    "tabular": bench_tabular.run,
    "e2e": bench_e2e.run,
    "tests": bench_suite.run,
}


def machine() -> str:
    """One line naming the machine and the versions that matter to the figures."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        ram = f"{pages / 2**30:.1f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        ram = "RAM unknown"
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("reporter", "pandas", "weasyprint")
    )
    return f"{os.cpu_count()} CPUs ({cpu}), {ram}, Python {platform.python_version()}, {versions}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (minutes)")
    parser.add_argument(
        "--only", metavar="LIST", help=f"comma-separated sections: {','.join(SECTIONS)}"
    )
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the figures here")
    parser.add_argument(
        "--no-growth", action="store_true", help="skip the cost growth table (full run only)"
    )
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    if args.quick and not args.only:
        # The suite has one size, and takes minutes on a busy machine: ask for it by name.
        chosen.remove("tests")
    if unknown := [name for name in chosen if name not in SECTIONS]:
        parser.error(f"unknown section {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")

    print(machine())
    print(f"load average at start: {load_average():.2f}", flush=True)
    started = time.perf_counter()
    figures: list[Figure] = []
    for name in chosen:
        section_started = time.perf_counter()
        print(f"running {name} (load {load_average():.2f}) ...", file=sys.stderr, flush=True)
        figures += SECTIONS[name](args.quick)
        print(
            f"  {name}: {time.perf_counter() - section_started:.0f} s, load {load_average():.2f}",
            file=sys.stderr,
            flush=True,
        )
    growth = None
    if "e2e" in chosen and not args.quick and not args.no_growth:
        print("running e2e cost growth ...", file=sys.stderr, flush=True)
        growth = bench_e2e.growth()
    elapsed = time.perf_counter() - started

    print()
    print(table(figures))
    if growth:
        print("\nEnd-to-end cost growth (reporter run, every format, concurrency 16):")
        print(growth)
    missed = [figure for figure in figures if figure.passed is False]
    print(
        f"\n{sum(f.passed is True for f in figures)} targets met, {len(missed)} missed; "
        f"{elapsed:.0f} s; load average at end: {load_average():.2f}"
    )
    if args.json:
        document = {
            "machine": machine(),
            "quick": args.quick,
            "seconds": round(elapsed, 1),
            "figures": [figure.as_dict() for figure in figures],
            "growth": growth,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if args.quick:
        print("quick run: small sizes, where fixed costs weigh more; judge targets on a full run")
        if "tests" not in chosen:
            print("the test suite's row is left out: add it with --quick --only tests")
        return 0
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
