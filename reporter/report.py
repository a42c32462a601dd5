"""The report model of a run: inventory + fetched executions -> every figure, computed once.

The stages run in order, each returning its values and its notes: ``parse`` (raw columns),
``frames`` (the execution and patch frames), ``compliance`` (what is in the period, latest
attempts, statuses, roll-ups). :func:`build_report` merges the notes and assembles the
problem list once.
"""

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from reporter import __version__
from reporter.compliance import (
    execution_recency,
    failed_attempts,
    failure_summary,
    failures_by_kb,
    failures_by_server,
    hresults_seen,
    kpis,
    latest_attempts,
    outcome_counts,
    patch_rollup,
    place_in_period,
    results_by_classification,
    server_frame,
    still_failing,
)
from reporter.frames import (
    execution_frame,
    patch_frame,
    problem_frame,
    public,
    server_table,
    with_attributes,
)
from reporter.gcpause import collector_paused
from reporter.grouping import compliance_by_group, problem_kinds, resolve_attributes
from reporter.inventory import Inventory
from reporter.model import DEFAULT_SHOWN_ATTRIBUTES, Coverage, Presentation, ReportMeta, ReportModel
from reporter.notes import Notes
from reporter.parse import read_payloads
from reporter.problems import BAD_PAYLOAD, Problem
from reporter.records import FetchedExecution, Period
from reporter.schema import EXECUTION_SCHEMA, FAILED_SCHEMA, PATCH_SCHEMA, SERVER_SCHEMA


def build_report(
    inventory: Inventory,
    fetched: Sequence[FetchedExecution],
    fetch_problems: Sequence[Problem],
    *,
    period: Period | None,
    title: str,
    accounts: list[str],
    data_source: str,
    manifest_sha256: str | None,
    generated_at: datetime,
    default_alias: str | None,
    label: str | None = None,
    input_name: str | None = None,
    completeness: tuple[pd.DataFrame, Coverage] | None = None,
    presentation: Presentation | None = None,
) -> ReportModel:
    """Parse, flatten, derive and judge everything a report shows.

    Every inventory server appears once in ``servers``; every inventory row, fetch problem,
    unreadable payload and execution outside ``period`` is either in the figures or in
    ``problems``. Inventory rows without an alias were fetched under ``default_alias``.
    ``label`` names the report (default: the period, else the date of ``generated_at``).
    Never raises on what the API sent.

    ``input_name`` names the input when it is not the inventory file's name (the account's
    server list, say); ``completeness`` is the completeness check's findings and coverage
    (:mod:`reporter.completeness`), carried into the model as they are. ``presentation``
    carries the user's choices (sign-off, time zone, grouping, columns).

    Raises:
        UsageError: ``presentation`` names an attribute the inventory does not have.
    """
    shown = presentation or Presentation()
    group_by = resolve_attributes(inventory.attribute_columns, shown.group_by, "--group-by")
    columns = (
        resolve_attributes(inventory.attribute_columns, shown.columns, "--columns")
        if shown.columns is not None
        else None
    )
    with collector_paused():
        batch, read_notes = read_payloads(distinct_executions(fetched))
        servers = server_table(inventory, default_alias, batch.fetched)
        every_execution, execution_notes = execution_frame(batch, servers)
        kept, period_problems = place_in_period(
            every_execution, batch.fetched, period, now=generated_at
        )
        patches, patch_notes = patch_frame(batch, every_execution, kept)
        notes = Notes.merged(read_notes, execution_notes, patch_notes)
        executions = every_execution.iloc[kept].reset_index(drop=True)

        recency = execution_recency(executions)
        counts = outcome_counts(patches, patches["_exec"].to_numpy(), len(executions))
        executions = executions.assign(
            **{name: pd.array(values, dtype="Int64") for name, values in counts.items()},
            in_period=pd.array(np.ones(len(executions), dtype=bool), dtype="boolean"),
            issues=pd.array([notes.remarks(p) for p in kept.tolist()], dtype="string"),
        )
        problems = [
            *inventory.problems,
            *fetch_problems,
            *notes.problems,
            *payload_warnings(notes, batch.fetched, kept),
            *period_problems,
        ]
        latest = latest_attempts(patches, recency)
        servers_frame = server_frame(servers, executions, patches, latest, recency, problems)

        # Executions and attempts read best per server, oldest first, in API order.
        executions, patches, latest = _in_recency_order(executions, patches, latest, recency)
        patches = with_attributes(patches, servers)
        patches["still_failing"] = still_failing(patches, latest)
        failed = failed_attempts(patches)
        problem_rows = problem_frame(problems)
        start = executions["start"].dropna()
        meta = ReportMeta(
            title=title,
            label=label or (str(period) if period else f"{generated_at:%Y-%m-%d}"),
            period=str(period) if period else None,
            accounts=list(accounts),
            generated_at=generated_at,
            tool_version=__version__,
            data_source=data_source,
            input_name=input_name or inventory.path.name,
            input_sha256=inventory.sha256,
            manifest_sha256=manifest_sha256,
            span_start=start.min().to_pydatetime() if len(start) else None,
            span_end=start.max().to_pydatetime() if len(start) else None,
            scope=scope_text(inventory, period),
            timezone=shown.timezone,
            sign_off=shown.sign_off,
            classification=shown.classification,
        )
        servers_out = public(with_attributes(servers_frame, servers), SERVER_SCHEMA.names, servers)
        model = ReportModel(
            meta=meta,
            kpis=kpis(servers_frame, executions, patches, len(problem_rows)),
            servers=servers_out,
            executions=public(
                with_attributes(executions, servers), EXECUTION_SCHEMA.names, servers
            ),
            patches=public(patches, PATCH_SCHEMA.names, servers),
            failed=public(failed, FAILED_SCHEMA.names, servers),
            patch_rollup=patch_rollup(patches, latest),
            problems=problem_rows,
            attribute_columns=list(servers.attributes),
            shown_attributes=list(servers.attributes)[:DEFAULT_SHOWN_ATTRIBUTES]
            if columns is None
            else columns,
            problem_kinds=problem_kinds(problem_rows),
            by_group=compliance_by_group(servers_out, group_by),
            results_by_classification=results_by_classification(patches),
            failures_by_kb=failures_by_kb(patches, latest),
            failures_by_server=failures_by_server(patches, latest),
            failure_summary=failure_summary(failed),
            hresults=hresults_seen(patches),
        )
        if completeness is not None:
            model.completeness, model.coverage = completeness
        return model


def scope_text(inventory: Inventory, period: Period | None) -> str:
    """Which executions the figures count, in words, from what the inventory asked for.

    >>> from pathlib import Path
    >>> from reporter.inventory import Inventory, InventoryRow
    >>> rows = [InventoryRow(2, "VA1WEB01", None, "OSD", {})]
    >>> scope_text(Inventory(Path("i.csv"), "0" * 64, rows, [], [], 1), None)
    'the latest execution per server'
    """
    listed = any(row.execution_id for row in inventory.rows)
    discovered = any(not row.execution_id for row in inventory.rows)
    if period is not None:
        return f"executions that started in {period} (UTC)"
    if listed and discovered:
        return "every listed execution, else the latest per server"
    if discovered:
        return "the latest execution per server"
    return "every listed execution"


def distinct_executions(fetched: Sequence[FetchedExecution]) -> list[FetchedExecution]:
    """Each (alias, server, execution) once; one listed in the inventory wins over a discovery."""
    keys = [f"{f.account_alias}\0{f.server_id}\0{f.execution_id}".upper() for f in fetched]
    if len(set(keys)) == len(keys):
        return list(fetched)
    chosen: dict[str, int] = {}
    result: list[FetchedExecution] = []
    for item, key in zip(fetched, keys, strict=True):
        position = chosen.get(key)
        if position is None:
            chosen[key] = len(result)
            result.append(item)
        elif result[position].discovered and not item.discovered:
            result[position] = item
    return result


def payload_warnings(
    notes: Notes, fetched: Sequence[FetchedExecution], kept: np.ndarray
) -> list[Problem]:
    """A ``bad payload`` warning for each execution in the figures whose payload had faults.

    ``fetched`` are the readable executions, numbered as in ``notes``; ``kept`` the numbers
    of those in the figures.
    """
    warnings = []
    faulty = notes.faults.keys()
    for position in kept.tolist():
        if position in faulty:
            item = fetched[position]
            warnings.append(
                Problem(
                    BAD_PAYLOAD,
                    notes.fault_text(position),
                    item.line,
                    item.account_alias,
                    item.server_id,
                    item.execution_id,
                )
            )
    return warnings


def _in_recency_order(
    executions: pd.DataFrame, patches: pd.DataFrame, latest: np.ndarray, recency: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Executions by (server, start); patches by their execution, then position in it."""
    executions = executions.iloc[np.argsort(recency)]
    if patches.empty:
        return executions, patches, latest
    runs = recency[patches["_exec"].to_numpy()]
    seqs = patches["patch_seq"].to_numpy(dtype=np.int64)
    in_order = (runs[1:] > runs[:-1]) | ((runs[1:] == runs[:-1]) & (seqs[1:] >= seqs[:-1]))
    if not in_order.all():
        order = np.lexsort((seqs, runs))
        patches, latest = patches.iloc[order], latest[order]
    return executions, patches, latest
