"""A hand-built ReportModel for renderer tests: the model's schema, tiny and varied."""

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd

from reporter import __version__
from reporter.compliance import failure_summary, hresults_seen
from reporter.grouping import compliance_by_group, problem_kinds
from reporter.model import AccountCoverage, Coverage, Kpis, ReportMeta, ReportModel, SignOff
from reporter.schema import (
    COMPLETENESS_SCHEMA,
    COMPLIANCE_STATUSES,
    COMPLIANT,
    EXECUTION_SCHEMA,
    FAILED_SCHEMA,
    IN_PROGRESS,
    NO_DATA,
    NON_COMPLIANT,
    PATCH_ROLLUP_SCHEMA,
    PATCH_SCHEMA,
    PROBLEM_SCHEMA,
    SERVER_SCHEMA,
    FrameSchema,
    conform,
)

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=file:///etc/passwd>",
    '=HYPERLINK("http://attacker.invalid","x")',
    "+1+2",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
]

CATALOGUE = [
    ("Security Update for Windows Server 2016 (KB5031362)", "KB5031362", "Security Update"),
    (
        "2026-10 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5031364)",
        "KB5031364",
        "Cumulative Update",
    ),
    (
        "2026-10 Security Monthly Quality Rollup for Windows Server 2012 R2 (KB5031419)",
        "KB5031419",
        "Security Monthly Quality Rollup",
    ),
    (
        "Servicing Stack Update for Windows Server 2019 (KB5031589)",
        "KB5031589",
        "Servicing Stack Update",
    ),
    (
        "Security Intelligence Update for Microsoft Defender Antivirus"
        " - KB2267602 (Version 1.403.1.0)",
        "KB2267602",
        "Definition Update",
    ),
    ("openssl-libs-1.0.2k-26.el7_9.x86_64", None, "Linux package"),
]
RESULT_CODES = {
    2: ("Succeeded", "the operation completed successfully", "succeeded"),
    3: ("Succeeded with errors", "completed, but one or more errors occurred", "warning"),
    4: ("Failed", "the operation failed to complete", "failed"),
    5: ("Aborted", "the operation was aborted", "failed"),
}


def make_model(
    servers: int = 12,
    hostile: bool = False,
    period: str | None = "2026-10",
    patches_per_server: int = 6,
    seed: int = 3,
    group_by: Sequence[str] = (),
    failing_share: float = 0.0,
) -> ReportModel:
    """A consistent little model: every figure agrees with the frames it summarises.

    The first 8 servers cycle through the compliance statuses; the rest are compliant, but
    for ``failing_share`` of them (at random) that are non-compliant, as a real fleet has.
    """
    rng = random.Random(seed)
    base = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
    attribute_columns = ["owner", "environment"]
    server_rows, execution_rows, patch_rows = [], [], []
    for number in range(servers):
        server_id = f"VA1OSDWEB{number + 1:02d}"
        owner = HOSTILE[number % len(HOSTILE)] if hostile else f"team-{number % 3}"
        attributes = {"owner": owner, "environment": ["prod", "staging", "dev"][number % 3]}
        status = COMPLIANCE_STATUSES[number % 4] if number < 8 else COMPLIANT
        if number >= 8 and rng.random() < failing_share:
            status = NON_COMPLIANT
        if status == NO_DATA:
            server_rows.append(server_row(server_id, status, attributes))
            continue
        execution_id = f"VA1-{100000 + number}"
        start = base + timedelta(hours=number)
        running = status == IN_PROGRESS
        counts = {"succeeded": 0, "warning": 0, "failed": 0, "in progress": 0}
        failed_keys = []
        for seq in range(1, patches_per_server + 1):
            title, kb, classification = CATALOGUE[(number + seq) % len(CATALOGUE)]
            if hostile and seq == 1:
                title = HOSTILE[number % len(HOSTILE)] + " " + title
            code = 4 if status == NON_COMPLIANT and seq == 2 else rng.choice([2, 2, 2, 2, 3])
            if running and seq == patches_per_server:
                code = None
            result, meaning, outcome = RESULT_CODES.get(
                code, ("Unknown", "no result code", "in progress")
            )
            hresult = "0x80240022" if code == 4 else None
            counts[outcome] += 1
            if outcome == "failed":
                failed_keys.append(kb or title)
            patch_start = start + timedelta(minutes=2 * seq)
            patch_rows.append(
                {
                    "account_alias": "OSD",
                    "server_id": server_id,
                    "execution_id": execution_id,
                    "execution_status": "running" if running else "completed",
                    "execution_start": start,
                    "execution_end": None if running else start + timedelta(minutes=40),
                    "patch_seq": seq,
                    "title": title,
                    "kb": kb,
                    "kbs": kb or "",
                    "classification": classification,
                    "result_code": code,
                    "result": result,
                    "result_meaning": meaning,
                    "hresult": hresult,
                    "hresult_name": "WU_E_ALL_UPDATES_FAILED" if hresult else None,
                    "hresult_meaning": "Operation failed for all the updates." if hresult else None,
                    "reboot_required": False,
                    "patch_status": "pending"
                    if code is None
                    else ("failed" if code == 4 else "completed"),
                    "patch_start": patch_start,
                    "patch_end": None if code is None else patch_start + timedelta(seconds=95),
                    "duration_s": None if code is None else 95,
                    "outcome": outcome,
                    "patch_key": kb or title,
                    "still_failing": outcome == "failed",
                    "rpm_name": "openssl-libs" if kb is None else None,
                    "rpm_version": "1.0.2k" if kb is None else None,
                    "rpm_release": "26.el7_9" if kb is None else None,
                    "rpm_arch": "x86_64" if kb is None else None,
                    "end_message": "" if code is None else f"Result Code: {code}",
                    **attributes,
                }
            )
        execution_rows.append(
            {
                "account_alias": "OSD",
                "server_id": server_id,
                "execution_id": execution_id,
                "status": "running" if running else "completed",
                "status_raw": "RUNNING" if running else "COMPLETED",
                "start": start,
                "end": None if running else start + timedelta(minutes=40),
                "duration_s": None if running else 2400,
                "duration_reported": None if running else "40m 0s",
                "duration_mismatch": False,
                "patch_count": patches_per_server,
                "details_missing": False,
                "succeeded": counts["succeeded"],
                "warnings": counts["warning"],
                "failed": counts["failed"],
                "in_progress": counts["in progress"],
                "in_period": True,
                "issues": "",
                **attributes,
            }
        )
        server_rows.append(
            server_row(
                server_id,
                status,
                attributes,
                executions=1,
                patches_attempted=patches_per_server,
                succeeded=counts["succeeded"],
                warnings=counts["warning"],
                failed=counts["failed"],
                failed_kbs="; ".join(failed_keys),
                latest_execution_id=execution_id,
                latest_execution_start=start,
                latest_execution_status="running" if running else "completed",
                last_success=start + timedelta(minutes=5),
            )
        )

    patches = typed(patch_rows, PATCH_SCHEMA, attribute_columns)
    executions = typed(execution_rows, EXECUTION_SCHEMA, attribute_columns)
    servers_frame = typed(server_rows, SERVER_SCHEMA, attribute_columns)
    failed = patches[patches["outcome"] == "failed"]
    failed = failed[[*FAILED_SCHEMA.names, *attribute_columns]]
    rollup = patch_rollup_of(patches)
    problems = typed(
        [
            {
                "line": 7,
                "account_alias": None,
                "server_id": "a/b",
                "execution_id": None,
                "kind": "invalid row",
                "reason": "server ID 'a/b' may only contain letters, digits and '-'",
            },
            {
                "line": 9,
                "account_alias": "OSD",
                "server_id": "VA1OSDWEB99",
                "execution_id": "VA1-999999",
                "kind": "not found",
                "reason": "execution not found (HTTP 404: Execution not found)",
            },
        ],
        PROBLEM_SCHEMA,
    )
    group = HOSTILE[0] if hostile else "VA1 Hardware/Web/Prod"
    completeness = typed(
        [
            {
                "account_alias": "OSD",
                "server_id": "VA1OSDWEB90",
                "finding": "not in the inventory",
                "data_center": "VA1",
                "group": group,
                "reason": "active",
                "line": None,
            },
            {
                "account_alias": "OSD",
                "server_id": "VA1OSDWEB91",
                "finding": "not in the account",
                "data_center": "VA1",
                "group": "VA1 Hardware/Archive",
                "reason": "archived",
                "line": 3,
            },
        ],
        COMPLETENESS_SCHEMA,
    )
    coverage = Coverage(accounts=(AccountCoverage("OSD", servers + 1, servers, 1),))
    by_status = servers_frame["compliance"].value_counts()
    outcomes = patches["outcome"].value_counts()
    kpis = Kpis(
        servers=len(servers_frame),
        compliant=int(by_status.get(COMPLIANT, 0)),
        non_compliant=int(by_status.get(NON_COMPLIANT, 0)),
        in_progress=int(by_status.get(IN_PROGRESS, 0)),
        no_data=int(by_status.get(NO_DATA, 0)),
        executions=len(executions),
        patches_attempted=len(patches),
        succeeded=int(outcomes.get("succeeded", 0)),
        warnings=int(outcomes.get("warning", 0)),
        failed=int(outcomes.get("failed", 0)),
        in_progress_patches=int(outcomes.get("in progress", 0)),
        problems=len(problems),
    )
    results = (
        patches.groupby(["classification", "outcome"], observed=True)
        .size()
        .unstack(fill_value=0)
        .reindex(columns=["succeeded", "warning", "failed", "in progress"], fill_value=0)
    )
    title = "Patch compliance" + (" <script>alert('t')</script>" if hostile else "")
    meta = ReportMeta(
        title=title,
        label=period or "2026-11-26",
        period=period,
        accounts=["OSD"],
        generated_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        tool_version=__version__,
        data_source="http://127.0.0.1:8080/rest",
        input_name="inventory.csv",
        input_sha256="0" * 64,
        manifest_sha256="f" * 64,
        scope="executions that started in 2026-10 (UTC)" if period else "every listed execution",
        sign_off=SignOff(prepared_by="demo"),
        span_start=executions["start"].min() if len(executions) else None,
        span_end=executions["start"].max() if len(executions) else None,
    )
    return ReportModel(
        meta=meta,
        kpis=kpis,
        servers=servers_frame,
        executions=executions,
        patches=patches,
        failed=failed,
        patch_rollup=rollup,
        problems=problems,
        attribute_columns=attribute_columns,
        shown_attributes=list(attribute_columns),
        problem_kinds=problem_kinds(problems),
        by_group=compliance_by_group(servers_frame, group_by),
        results_by_classification=results,
        failures_by_kb=failed.groupby("patch_key", observed=True)["server_id"]
        .nunique()
        .sort_values(ascending=False)
        .head(10)
        .astype("Int64"),
        failure_summary=failure_summary(failed),
        hresults=hresults_seen(patches),
        failures_by_server=failed.groupby("server_id", observed=True)["patch_key"]
        .nunique()
        .sort_values(ascending=False)
        .head(10)
        .astype("Int64"),
        completeness=completeness,
        coverage=coverage,
    )


def patch_rollup_of(patches: pd.DataFrame) -> pd.DataFrame:
    """The patch roll-up of ``patches`` (one execution per server, so every attempt is the
    latest of its patch on its server)."""
    rollup = (
        patches.groupby("patch_key", observed=True)
        .agg(
            kb=("kb", "first"),
            title=("title", "first"),
            classification=("classification", "first"),
            servers_attempted=("server_id", "nunique"),
            attempts=("server_id", "size"),
        )
        .reset_index()
    )
    by_outcome = patches.groupby(["patch_key", "outcome"], observed=True)["server_id"].nunique()
    for outcome, column in (
        ("succeeded", "servers_succeeded"),
        ("warning", "servers_warnings"),
        ("in progress", "servers_in_progress"),
        ("failed", "servers_failed"),
    ):
        counts = (
            by_outcome.xs(outcome, level="outcome") if outcome in by_outcome.index.levels[1] else {}
        )
        rollup[column] = rollup["patch_key"].astype(object).map(counts).fillna(0).astype("Int64")
    rollup = conform(rollup[PATCH_ROLLUP_SCHEMA.names], PATCH_ROLLUP_SCHEMA).sort_values(
        ["servers_failed", "patch_key"], ascending=[False, True]
    )
    return rollup.reset_index(drop=True)


def server_row(server_id: str, status: str, attributes: dict, **figures) -> dict:
    """One row of the servers frame; servers without data have zero counts."""
    reasons = {
        COMPLIANT: "all patches succeeded",
        NON_COMPLIANT: "1 patch failed",
        IN_PROGRESS: "latest execution is still running",
        NO_DATA: "no execution could be fetched",
    }
    row = {
        "account_alias": "OSD",
        "server_id": server_id,
        "compliance": status,
        "reason": reasons[status],
        "executions": 0,
        "patches_attempted": 0,
        "succeeded": 0,
        "warnings": 0,
        "failed": 0,
        "failed_kbs": "",
        "latest_execution_id": None,
        "latest_execution_start": None,
        "latest_execution_status": None,
        "last_success": None,
    }
    row.update(figures)
    row.update(attributes)
    return row


def typed(rows: list[dict], schema: FrameSchema, attributes: Sequence[str] = ()) -> pd.DataFrame:
    """A frame of ``rows`` with the schema's columns and dtypes, then the attribute columns."""
    return conform(pd.DataFrame(rows, columns=[*schema.names, *attributes]), schema)
