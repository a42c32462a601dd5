"""The test suite's own time (SPEC 8): ``pytest -n 2 -q``, the README's command, <= 90 s.

    python benchmarks/bench_suite.py

Runs the default selection from the repository's root as a process of its own and reports its
wall time, its CPU seconds (pytest and its workers, from ``os.wait4``) and the load average.
A suite that fails still gets its time reported, with the failure count in the note.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from figures import Figure, load_average

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 90


def suite() -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, pytest's last line) of ``pytest -n 2 -q``."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = child.stdout.read() if child.stdout else ""
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    lines = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return wall, usage.ru_utime + usage.ru_stime, lines[-1].strip("= ") if lines else "no summary"


def run(quick: bool) -> list[Figure]:
    """The suite's time against its target (the whole suite, quick or not: it has one size)."""
    load = load_average()
    wall, cpu, summary = suite()
    return [
        Figure(
            "tests",
            "test suite, `pytest -n 2 -q`",
            wall,
            "s",
            target=f"<= {TARGET_SECONDS} s",
            passed=wall <= TARGET_SECONDS,
            note=f"{summary}; load {load:.1f} when it started",
            cpu=cpu,
        )
    ]


if __name__ == "__main__":
    from figures import table

    print(table(run(False)))
