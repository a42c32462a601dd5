"""Benchmark: parse + flatten + derive + compliance (build_report, no rendering).

Targets (SPEC 8): >= 250,000 patch rows/s, and 1,000,000 rows in < 1.5 GB peak RSS.

The input is the simulator's fleet, each execution's detail body decoded with ``json.loads``
exactly as the client hands it over; the fleet is replicated under new server IDs to reach a
million rows (each replica decoded again, so no string object is shared between replicas).
Each size runs in a fresh process; peak RSS is reported beside the RSS the input alone took.

    python benchmarks/bench_model.py                # 150,000 and 1,000,000 rows
    python benchmarks/bench_model.py --rows 150000  # one size
    python benchmarks/bench_model.py --rows 150000 --empty-patches 10000
        # plus one hostile execution: 10,000 patches lacking every field (SPEC 7), whose
        # notes must cost time and text in proportion to the executions, not the patches
"""

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from figures import Figure

TARGET_RATE = 250_000
TARGET_RSS_MB = 1536
BASE_SERVERS = 6_000  # about 150,000 patch rows at 4 executions per server


def build_input(rows: int, empty_patches: int = 0):
    """(inventory, fetched) with about ``rows`` patch rows from the simulator's fleet, plus
    one execution of ``empty_patches`` patches lacking every field when that is not 0."""
    from reporter.inventory import Inventory, InventoryRow
    from reporter.records import FetchedExecution
    from reporter.simulator import Fleet

    # A small size needs no big fleet (generating one takes seconds); ~25 rows per server.
    servers = min(BASE_SERVERS, rows // 20 + 1)
    fleet = Fleet.generate(servers=servers, executions_per_server=4, seed=1)
    bodies = [
        (e.server_id, e.execution_id, fleet.detail_bytes(e.account, e.server_id, e.execution_id))
        for e in fleet.executions
    ]
    attributes = {server.server_id: server.attributes for server in fleet.servers}
    names = list(next(iter(attributes.values())))
    now = datetime(2026, 11, 20, tzinfo=UTC)
    inventory_rows, fetched, total, replica = [], [], 0, 0
    while total < rows:
        for server_id, execution_id, body in bodies:
            if total >= rows:
                break
            server = server_id if replica == 0 else f"{server_id}R{replica}"
            payload = json.loads(body)
            line = len(inventory_rows) + 2
            inventory_rows.append(
                InventoryRow(line, server, execution_id, "OSD", attributes[server_id])
            )
            fetched.append(
                FetchedExecution("OSD", server, execution_id, payload, "bench", now, line)
            )
            patches = payload.get("patches", payload.get("Patches"))
            total += len(patches) if isinstance(patches, list) else 0
        replica += 1
    if empty_patches:
        payload = {
            "execution_id": "VA1-999999",
            "status": "completed",
            "start_time": "2026-11-02T03:00:00Z",
            "end_time": "2026-11-02T04:00:00Z",
            "patches": [{} for _ in range(empty_patches)],
        }
        line = len(inventory_rows) + 2
        inventory_rows.append(InventoryRow(line, "VA1HOSTILE01", "VA1-999999", "OSD", {}))
        fetched.append(
            FetchedExecution("OSD", "VA1HOSTILE01", "VA1-999999", payload, "bench", now, line)
        )
    inventory = Inventory(
        Path("bench.csv"), "0" * 64, inventory_rows, [], names, len(inventory_rows)
    )
    return inventory, fetched


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(rows: int, repeats: int, empty_patches: int = 0) -> dict:
    """Build the input, then time build_report ``repeats`` times (in this process)."""
    from reporter.report import build_report

    inventory, fetched = build_input(rows, empty_patches)
    gc.collect()
    if repeats == 0:  # the baseline: the same input, no model
        return {"input_peak_mb": peak_rss_mb()}
    walls, cpus = [], []
    patch_rows = longest_reason = 0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        model = build_report(
            inventory,
            fetched,
            [],
            period=None,
            title="bench",
            accounts=["OSD"],
            data_source="bench",
            manifest_sha256=None,
            generated_at=datetime(2026, 11, 20, tzinfo=UTC),
            default_alias="OSD",
        )
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        patch_rows = len(model.patches)
        longest_reason = int(model.problems["reason"].str.len().max()) if len(model.problems) else 0
        del model
    return {
        "rows": patch_rows,
        "executions": len(fetched),
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "repeats": repeats,
        "peak_rss_mb": peak_rss_mb(),
        "longest_reason": longest_reason,
    }


def child(rows: int, repeats: int, empty_patches: int = 0) -> dict:
    """Run :func:`measure` in a fresh interpreter, so that its peak RSS is its own."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--rows",
            str(rows),
            "--repeats",
            str(repeats),
            "--empty-patches",
            str(empty_patches),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(quick: bool) -> list[Figure]:
    """The SPEC 8 model figures: rows/s, and the peak RSS a million rows add to their input."""
    figures = []
    for size in [30_000] if quick else [150_000, 1_000_000]:
        baseline = child(size, 0)["input_peak_mb"]
        r = child(size, 1 if quick or size > 200_000 else 3)
        rate = r["rows"] / r["wall_s"]
        label = f"parse+flatten+derive+compliance, {r['rows']:,} rows"
        figures.append(
            Figure(
                "model",
                label,
                rate,
                "rows/s",
                target=f">= {TARGET_RATE:,} rows/s",
                passed=rate >= TARGET_RATE,
                repeats=r["repeats"],
                note=f"CPU {r['cpu_s']:.2f} s for {r['wall_s']:.2f} s wall "
                f"({r['rows'] / r['cpu_s']:,.0f} rows per CPU second)",
            )
        )
        if r["rows"] >= 1_000_000 or quick:
            added = r["peak_rss_mb"] - baseline
            figures.append(
                Figure(
                    "model",
                    f"peak RSS added by the model, {r['rows']:,} rows",
                    added,
                    "MB",
                    target=f"< {TARGET_RSS_MB:,} MB at 1,000,000 rows",
                    passed=added < TARGET_RSS_MB if r["rows"] >= 1_000_000 else None,
                    note=f"peak {r['peak_rss_mb']:,.0f} MB, of which the decoded input "
                    f"alone {baseline:,.0f} MB (measured in its own process)",
                )
            )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="patch rows (repeatable)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size (median)")
    parser.add_argument(
        "--empty-patches",
        type=int,
        default=0,
        help="add one execution of this many patches lacking every field (worst case)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.rows or [150_000, 1_000_000]
    if args.child:
        print(json.dumps(measure(sizes[0], args.repeats, args.empty_patches)))
        return 0
    print(
        f"{'rows':>10} {'executions':>10} {'wall s':>7} {'rows/s':>10} {'cpu s':>7} "
        f"{'rows/cpu s':>10} {'input MB':>9} {'peak MB':>8} {'model MB':>9}"
    )
    ok = True
    for size in sizes:
        # Fresh processes: one for the input alone (the baseline), one for input + model.
        baseline = child(size, 0, args.empty_patches)["input_peak_mb"]
        r = child(size, args.repeats if size <= 200_000 else 1, args.empty_patches)
        rate = r["rows"] / r["wall_s"]
        added = r["peak_rss_mb"] - baseline
        print(
            f"{r['rows']:>10,} {r['executions']:>10,} {r['wall_s']:>7.2f} {rate:>10,.0f} "
            f"{r['cpu_s']:>7.2f} {r['rows'] / r['cpu_s']:>10,.0f} {baseline:>9,.0f} "
            f"{r['peak_rss_mb']:>8,.0f} {added:>9,.0f}"
        )
        if args.empty_patches:
            print(f"{'':>10} longest problem reason: {r['longest_reason']:,} characters")
        ok = ok and rate >= TARGET_RATE
        if r["rows"] >= 1_000_000:
            ok = ok and added < TARGET_RSS_MB
    print(
        f"targets: >= {TARGET_RATE:,} rows/s; 1,000,000 rows < {TARGET_RSS_MB:,} MB above the "
        f"input -> {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
