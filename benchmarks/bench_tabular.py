"""CSV and Excel writing speed against pandas' own writers, measured in the same run (SPEC 8),
and how fast an inventory CSV loads.

    python benchmarks/bench_tabular.py [--repeats 3] [--skip-pandas-excel]

Two models from tests/factories.make_model: 150,000 patch rows (2,500 servers x 60 patches)
and a 1,000-server month (30 patches each). For each writer: median wall time over the
repeats, patch rows per second, and CPU seconds (the wall time suffers when the machine is
shared; CPU time does not). Targets: CSV >= 300,000 rows/s, Excel >= 20,000 rows/s. For
information, the workbook written through XlsxWriter's public API alone: what the Excel report
falls back to when an XlsxWriter release changes an internal the fast row writer uses.

Inventory loading (no SPEC 8 target; the figures the test suite used to assert): 100,000
rows with three attribute columns (once under 2 CPU seconds), and a file of a million blank
or whitespace-only lines around one row (once under 10 CPU seconds).
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from factories import make_model  # noqa: E402
from figures import Figure  # noqa: E402

from reporter.inventory import load_inventory  # noqa: E402
from reporter.render import excel  # noqa: E402
from reporter.render.csv import render_csv  # noqa: E402
from reporter.render.excel import render_xlsx  # noqa: E402

CASES = [("150,000 patch rows", 2_500, 60), ("1,000-server month", 1_000, 30)]
TARGETS = {"csv": 300_000, "xlsx": 20_000}


def measure(write: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``write`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        write()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def cell_by_cell(write: Callable[[], object]) -> Callable[[], object]:
    """``write`` with the Excel fast row writer off: every cell through the public API."""

    def run() -> object:
        fast = excel.FAST_SHEET_DATA
        excel.FAST_SHEET_DATA = False
        try:
            return write()
        finally:
            excel.FAST_SHEET_DATA = fast

    return run


def inventory_files(folder: Path, rows: int, blank_lines: int) -> dict[str, tuple[Path, int]]:
    """Two inventory CSVs in ``folder``, by label: (path, the lines load_inventory reads)."""
    many = folder / "rows.csv"
    lines = ["server_id,execution_id,account_alias,owner,environment,os"]
    lines += [f"VA1SRV{i:06d},VA1-{i + 100000},OSD,team{i % 9},prod,Windows" for i in range(rows)]
    many.write_text("\n".join(lines) + "\n", encoding="utf-8")
    blank = folder / "blank.csv"
    pairs = blank_lines // 2  # each pair: an empty line and one of blanks and commas
    blank.write_text("server_id,owner\n" + "\n , ,\r\n" * pairs + "VA1SRV01,ops\n")
    return {
        f"{rows:,} rows": (many, rows + 1),
        f"{pairs * 2:,} blank lines and 1 row": (blank, pairs * 2 + 2),
    }


def inventory_figures(folder: Path, quick: bool, repeats: int) -> list[Figure]:
    """Lines per second that load_inventory reads, for many rows and for many blank lines."""
    rows, blank_lines = (20_000, 200_000) if quick else (100_000, 1_000_000)
    figures = []
    for label, (path, lines) in inventory_files(folder, rows, blank_lines).items():
        wall, cpu = measure(lambda p=path: load_inventory(p), repeats)
        figures.append(
            Figure(
                "inventory",
                f"load_inventory, {label}",
                lines / wall,
                "lines/s",
                repeats=repeats,
                note=f"inventory, {label}: {wall:.2f} s ({cpu:.2f} CPU seconds)",
            )
        )
    return figures


def naive_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with time zones dropped: pandas' to_excel refuses aware datetimes."""
    frame = frame.copy()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_localize(None)
    return frame


def run(quick: bool) -> list[Figure]:
    """The SPEC 8 CSV and Excel figures, each against pandas' own writer in the same run."""
    servers, per_server, repeats = (500, 40, 1) if quick else (2_500, 60, 3)
    model = make_model(servers=servers, patches_per_server=per_server)
    rows = len(model.patches)
    naive = naive_times(model.patches)
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        cases = [
            (
                "csv",
                lambda: render_csv(model, out / "r.csv"),
                "pandas to_csv",
                lambda: model.patches.to_csv(out / "p.csv", index=False),
            ),
            (
                "xlsx",
                lambda: render_xlsx(model, out / "r.xlsx"),
                "pandas to_excel",
                lambda: naive.to_excel(out / "p.xlsx", index=False, engine="xlsxwriter"),
            ),
        ]
        for fmt, write, baseline_label, baseline in cases:
            wall, cpu = measure(write, repeats)
            base_wall, _ = measure(baseline, repeats)
            rate = rows / wall
            figures.append(
                Figure(
                    fmt,
                    f"render_{fmt}, {rows:,} patch rows (all sheets)"
                    if fmt == "xlsx"
                    else f"render_csv, {rows:,} patch rows",
                    rate,
                    "rows/s",
                    rows / base_wall,
                    baseline_label,
                    f">= {TARGETS[fmt]:,} rows/s",
                    rate >= TARGETS[fmt],
                    repeats,
                    note=f"{fmt}: {rows / cpu:,.0f} rows per CPU second; the pandas baseline "
                    + (
                        "writes the patches sheet alone, with no styling, filters or "
                        "formula guard (xlsxwriter engine)"
                        if fmt == "xlsx"
                        else "writes the raw frame, without the formula guard and ISO times"
                    ),
                )
            )
        fast_rate = figures[-1].value
        wall, _ = measure(cell_by_cell(lambda: render_xlsx(model, out / "c.xlsx")), repeats)
        figures.append(
            Figure(
                "xlsx",
                f"render_xlsx cell by cell (public API only), {rows:,} patch rows",
                rows / wall,
                "rows/s",
                fast_rate,
                "fast row writer",
                repeats=repeats,
                note="the fallback when XlsxWriter's internals are not as the fast path expects",
            )
        )
        figures += inventory_figures(out, quick, repeats)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-pandas-excel", action="store_true", help="it takes minutes")
    args = parser.parse_args()
    print(
        f"{'case':<20} {'writer':<28} {'rows':>8} {'wall s':>7} {'rows/s':>9}"
        f" {'cpu s':>6} {'rows/cpu s':>10}"
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for label, servers, per_server in CASES:
            model = make_model(servers=servers, patches_per_server=per_server)
            rows = len(model.patches)
            naive = naive_times(model.patches)
            writers = [
                ("reporter render_csv", "csv", lambda m=model: render_csv(m, out / "r.csv")),
                (
                    "pandas to_csv (raw frame)",
                    None,
                    lambda m=model: m.patches.to_csv(out / "p.csv", index=False),
                ),
                ("reporter render_xlsx", "xlsx", lambda m=model: render_xlsx(m, out / "r.xlsx")),
                (
                    "render_xlsx cell by cell",
                    None,
                    cell_by_cell(lambda m=model: render_xlsx(m, out / "c.xlsx")),
                ),
            ]
            if not args.skip_pandas_excel:
                writers += [
                    (
                        f"pandas to_excel ({engine})",
                        None,
                        lambda f=naive, e=engine: f.to_excel(out / "p.xlsx", index=False, engine=e),
                    )
                    for engine in ("xlsxwriter", "openpyxl")
                ]
            for name, target, write in writers:
                wall, cpu = measure(write, args.repeats)
                mark = ""
                if target:
                    mark = "  ok" if rows / wall >= TARGETS[target] else "  BELOW TARGET"
                print(
                    f"{label:<20} {name:<28} {rows:>8,} {wall:>7.2f} {rows / wall:>9,.0f}"
                    f" {cpu:>6.2f} {rows / cpu:>10,.0f}{mark}",
                    flush=True,
                )
        print(f"\n{'inventory':<42} {'lines':>9} {'wall s':>7} {'lines/s':>9} {'cpu s':>6}")
        for label, (path, lines) in inventory_files(out, 100_000, 1_000_000).items():
            wall, cpu = measure(lambda p=path: load_inventory(p), args.repeats)
            print(f"{label:<42} {lines:>9,} {wall:>7.2f} {lines / wall:>9,.0f} {cpu:>6.2f}")


if __name__ == "__main__":
    main()
