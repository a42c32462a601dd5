"""Compliance (SPEC 4): latest attempts, server statuses, the period, roll-ups and charts."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from reporter.inventory import Inventory, InventoryRow
from reporter.model import COMPLIANT, IN_PROGRESS, NO_DATA, NON_COMPLIANT
from reporter.problems import NOT_FOUND, OUTSIDE_PERIOD, Problem
from reporter.records import FetchedExecution, Period
from reporter.report import build_report

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KB_A = "Installing Security Update for Windows Server 2016 (KB5031362)"
KB_B = "Installing 2026-10 Cumulative Update for Windows Server 2016 (KB5031361)"
OK, WARN, FAIL = "Result Code: 2", "Result Code: 3", "Result Code: 4, HResult: 0x80240022"


def execution(server, execution_id, start, patches, status="completed", line=None, **kw):
    """A fetched execution whose patches are (title, end message) pairs, two minutes apart."""
    begin = datetime.fromisoformat(start).replace(tzinfo=UTC)
    body = {
        "execution_id": execution_id,
        "status": status,
        "start_time": f"{begin:%Y-%m-%dT%H:%M:%SZ}",
        "end_time": ""
        if status in ("running", "pending")
        else f"{begin + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
        "patches": [
            {
                "patch_begin_message": title,
                "patch_end_message": message,
                "status": "pending"
                if message == ""
                else ("failed" if "4" in message else "completed"),
                "start_time": f"{begin + timedelta(minutes=2 * n):%Y-%m-%dT%H:%M:%SZ}",
                "end_time": f"{begin + timedelta(minutes=2 * n + 1):%Y-%m-%dT%H:%M:%SZ}",
            }
            for n, (title, message) in enumerate(patches)
        ],
    }
    return FetchedExecution("OSD", server, execution_id, body, "http://x/", NOW, line=line, **kw)


def build(items, servers=None, period=None, problems=()):
    """A report over ``items``; the inventory lists their servers plus ``servers``."""
    names = list(dict.fromkeys([item.server_id for item in items] + list(servers or [])))
    rows = [
        InventoryRow(n + 2, name, None, "OSD", {"env": f"env-{n % 2}"})
        for n, name in enumerate(names)
    ]
    inventory = Inventory(Path("inventory.csv"), "0" * 64, rows, [], ["env"], len(rows))
    return build_report(
        inventory,
        items,
        list(problems),
        period=period,
        title="Patch compliance",
        accounts=["OSD"],
        data_source="test",
        manifest_sha256=None,
        generated_at=NOW,
        default_alias=None,
    )


def status_of(model, server):
    row = model.servers.set_index("server_id").loc[server]
    return row["compliance"], row["reason"]


def test_kb_failed_then_succeeded_is_compliant():
    model = build(
        [
            execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, FAIL), (KB_B, OK)]),
            execution("WEB01", "VA1-2", "2026-10-08 03:00", [(KB_A, OK)]),
        ]
    )
    assert status_of(model, "WEB01")[0] == COMPLIANT
    assert model.failed["still_failing"].tolist() == [False]
    rollup = model.patch_rollup.set_index("patch_key")
    assert rollup.loc[
        "KB5031362", ["servers_attempted", "servers_succeeded", "servers_failed", "attempts"]
    ].tolist() == [1, 1, 0, 2]
    assert model.failures_by_kb.empty


def test_kb_succeeded_then_failed_is_non_compliant():
    model = build(
        [
            # listed newest first: the start time, not the fetch order, decides
            execution("WEB01", "VA1-2", "2026-10-08 03:00", [(KB_A, FAIL)]),
            execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, OK), (KB_B, OK)]),
        ]
    )
    status, reason = status_of(model, "WEB01")
    assert status == NON_COMPLIANT
    assert reason == "1 patch failed: KB5031362"
    row = model.servers.iloc[0]
    assert row["failed_kbs"] == "KB5031362"
    assert row["latest_execution_id"] == "VA1-2"
    assert model.failed["still_failing"].tolist() == [True]
    assert model.failures_by_kb.to_dict() == {"KB5031362": 1}
    assert model.failures_by_server.to_dict() == {"WEB01": 1}
    assert model.executions["execution_id"].tolist() == ["VA1-1", "VA1-2"]  # oldest first


def test_same_kb_twice_in_one_execution_the_later_position_wins():
    model = build([execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, FAIL), (KB_A, OK)])])
    assert status_of(model, "WEB01")[0] == COMPLIANT


def test_running_latest_execution_is_in_progress():
    model = build(
        [
            execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, OK)]),
            execution("WEB01", "VA1-2", "2026-10-08 03:00", [(KB_B, OK), (KB_A, "")], "running"),
        ]
    )
    status, reason = status_of(model, "WEB01")
    assert status == IN_PROGRESS
    assert reason == "execution VA1-2 is running"
    assert model.kpis.in_progress_patches == 1
    assert model.patches["outcome"].tolist() == ["succeeded", "succeeded", "in progress"]


def test_zero_patch_completed_execution_is_up_to_date():
    model = build([execution("WEB01", "VA1-1", "2026-10-01 03:00", [])])
    assert status_of(model, "WEB01") == (COMPLIANT, "up to date: no patches were needed")


def test_failed_latest_execution_is_non_compliant():
    model = build([execution("WEB01", "VA1-1", "2026-10-01 03:00", [], status="failed")])
    assert status_of(model, "WEB01") == (NON_COMPLIANT, "latest execution VA1-1 failed")


def test_warnings_are_compliant_and_counted():
    model = build([execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, WARN), (KB_B, OK)])])
    status, reason = status_of(model, "WEB01")
    assert status == COMPLIANT
    assert reason.endswith("1 warning")
    assert model.servers["warnings"].tolist() == [1]
    assert model.kpis.warnings == 1 and model.kpis.succeeded == 1


def test_server_without_data_says_why():
    problem = Problem(NOT_FOUND, "execution not found (HTTP 404)", 3, "OSD", "WEB02", "VA1-9")
    model = build(
        [execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, OK)])],
        servers=["WEB02"],
        problems=[problem],
    )
    assert status_of(model, "WEB02") == (NO_DATA, "no execution in the figures: not found (1)")
    assert model.kpis.no_data == 1
    assert model.kpis.compliant_pct == 50.0


def test_period_leaves_out_executions_started_elsewhere_and_says_so():
    model = build(
        [
            execution("WEB01", "VA1-1", "2026-09-28 03:00", [(KB_A, FAIL)], line=2),
            execution("WEB01", "VA1-2", "2026-10-08 03:00", [(KB_B, OK)], line=3),
            execution("WEB02", "VA1-3", "2026-11-02 03:00", [(KB_B, OK)], line=4),
        ],
        period=Period(2026, 10),
    )
    assert model.executions["execution_id"].tolist() == ["VA1-2"]
    assert model.executions["in_period"].tolist() == [True]
    outside = model.problems[model.problems["kind"] == OUTSIDE_PERIOD]
    assert outside["reason"].tolist() == [
        "started 2026-09-28, outside 2026-10",
        "started 2026-11-02, outside 2026-10",
    ]
    assert outside["line"].tolist() == [2, 4]
    assert status_of(model, "WEB01")[0] == COMPLIANT  # the September failure is not in October
    assert status_of(model, "WEB02")[0] == NO_DATA
    assert model.meta.label == "2026-10"
    assert model.meta.span_start == model.meta.span_end == datetime(2026, 10, 8, 3, tzinfo=UTC)


def test_period_with_unknown_start_is_a_problem():
    item = execution("WEB01", "VA1-1", "2026-10-08 03:00", [(KB_A, OK)])
    item.payload["start_time"] = ""
    model = build([item], period=Period(2026, 10))
    assert model.executions.empty
    assert "start time unknown; cannot place it in 2026-10" in model.problems["reason"].tolist()


def test_newer_release_of_a_failed_linux_package_makes_the_server_compliant():
    old, new = "openssl-libs-1.0.2k-25.el7_9.x86_64", "openssl-libs-1.0.2k-26.el7_9.x86_64"
    model = build(
        [
            execution("LNX01", "VA1-1", "2026-10-01 03:00", [(old, FAIL)]),
            execution("LNX01", "VA1-2", "2026-10-08 03:00", [(new, OK)]),
        ]
    )
    assert status_of(model, "LNX01")[0] == COMPLIANT
    [row] = model.patch_rollup.to_dict("records")
    assert row["patch_key"] == "openssl-libs.x86_64"
    assert row["title"] == "openssl-libs.x86_64 (any version)"
    assert (row["servers_succeeded"], row["servers_failed"], row["attempts"]) == (1, 0, 2)


def test_pending_execution_without_start_belongs_to_the_current_period():
    item = execution("WEB01", "VA1-1", "2026-11-25 03:00", [(KB_A, "")], status="pending")
    item.payload["start_time"] = ""
    model = build([item], period=Period(2026, 11))  # NOW is in 2026-11
    assert status_of(model, "WEB01")[0] == IN_PROGRESS
    earlier = build([item], period=Period(2026, 10))
    assert status_of(earlier, "WEB01")[0] == NO_DATA


@pytest.mark.parametrize("status", ["cancelled", ""])
def test_latest_execution_with_an_undocumented_status_is_not_compliant(status):
    item = execution("WEB01", "VA1-1", "2026-10-08 03:00", [], status=status)
    compliance, reason = status_of(build([item]), "WEB01")
    assert compliance == NON_COMPLIANT
    assert "status the API does not document" in reason
    assert "up to date" not in reason


def test_latest_execution_is_chosen_by_start_whatever_the_fetch_order():
    items = [
        execution(
            f"S{n:03d}",
            f"VA1-{n}{k}",
            f"2026-10-0{k} 03:00",
            [(KB_A, OK)],
            status="running" if k == 9 else "completed",
        )
        for n in range(300)
        for k in (9, 1, 5)
    ]
    model = build(items)
    assert set(model.servers["compliance"]) == {IN_PROGRESS}
    assert set(model.servers["latest_execution_id"].str[-1]) == {"9"}


def test_servers_sorted_worst_first_then_by_id():
    model = build(
        [
            execution("B-OK", "VA1-1", "2026-10-01 03:00", [(KB_A, OK)]),
            execution("A-OK", "VA1-2", "2026-10-01 03:00", [(KB_A, OK)]),
            execution("Z-BAD", "VA1-3", "2026-10-01 03:00", [(KB_A, FAIL)]),
            execution("Y-RUN", "VA1-4", "2026-10-01 03:00", [(KB_A, "")], "running"),
        ],
        servers=["C-NONE"],
    )
    assert model.servers["server_id"].tolist() == ["Z-BAD", "Y-RUN", "C-NONE", "A-OK", "B-OK"]
    assert model.servers["compliance"].tolist() == [
        NON_COMPLIANT,
        IN_PROGRESS,
        NO_DATA,
        COMPLIANT,
        COMPLIANT,
    ]


def test_rollup_charts_and_kpis_agree():
    model = build(
        [
            execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, FAIL), (KB_B, OK)]),
            execution("WEB02", "VA1-2", "2026-10-01 03:00", [(KB_A, FAIL), (KB_B, WARN)]),
            execution("WEB03", "VA1-3", "2026-10-01 03:00", [(KB_A, OK), (KB_B, OK)]),
        ]
    )
    rollup = model.patch_rollup
    assert rollup["patch_key"].tolist() == ["KB5031362", "KB5031361"]  # most failing first
    assert rollup["servers_failed"].tolist() == [2, 0]
    assert rollup["servers_succeeded"].tolist() == [1, 2]
    assert rollup["servers_warnings"].tolist() == [0, 1]  # apart from the successes now
    assert rollup["servers_in_progress"].tolist() == [0, 0]
    assert rollup["classification"].tolist() == ["Security Update", "Cumulative Update"]
    chart = model.results_by_classification
    assert list(chart.columns) == ["succeeded", "warning", "failed", "in progress"]
    assert chart.loc["Security Update"].tolist() == [1, 0, 2, 0]
    assert chart.loc["Cumulative Update"].tolist() == [2, 1, 0, 0]
    assert model.failures_by_kb.to_dict() == {"KB5031362": 2}
    assert model.failures_by_server.index.tolist() == ["WEB01", "WEB02"]
    kpis = model.kpis
    assert (kpis.compliant, kpis.non_compliant, kpis.servers) == (1, 2, 3)
    assert kpis.succeeded + kpis.warnings + kpis.failed + kpis.in_progress_patches == len(
        model.patches
    )
    assert int(model.servers["failed"].sum()) == kpis.failed == len(model.failed)


@pytest.mark.parametrize("status", ["pending", "running"])
def test_last_success_and_latest_status(status):
    model = build(
        [
            execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, OK)]),
            execution("WEB01", "VA1-2", "2026-10-02 03:00", [], status),
        ]
    )
    row = model.servers.iloc[0]
    assert row["latest_execution_status"] == status
    assert row["last_success"] == pd.Timestamp("2026-10-01T03:01:00Z")


def test_hresults_and_failure_summary_are_model_figures():
    reboot = "Result Code: 2, HResult: 0x00240005"
    model = build(
        [
            execution("WEB01", "VA1-1", "2026-10-01 03:00", [(KB_A, FAIL), (KB_B, reboot)]),
            execution("WEB02", "VA1-2", "2026-10-01 03:00", [(KB_A, FAIL)]),
        ]
    )
    assert model.hresults["hresult"].tolist() == ["0x00240005", "0x80240022"]
    assert model.hresults["attempts"].tolist() == [1, 2]
    [row] = model.failure_summary.to_dict("records")
    assert (row["patch_key"], row["hresult"], row["servers"], row["attempts"]) == (
        "KB5031362",
        "0x80240022",
        2,
        2,
    )
