"""A report model measured against a standard (SPEC 4a): required patches, exceptions, and the
servers' statuses, figures and problems that follow from them.

The look-back (SPEC 9) needs to know which servers miss a required patch before it can search
their earlier executions: :func:`servers_to_look_back` says so from the attempts known so far,
and :func:`apply_standard` judges once everything is known.
"""

import dataclasses
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from reporter.compliance import kpis, sort_servers
from reporter.frames import problem_frame
from reporter.model import ReportModel, StandardSummary
from reporter.problems import Problem
from reporter.schema import (
    DUE,
    EXCEPTED,
    FAILED,
    INSTALLED,
    OVERDUE,
    REQUIRED_ROLLUP_SCHEMA,
    REQUIRED_STATES,
    as_text,
    conform,
    empty_frame,
)
from reporter.standard.baseline import BaselineRow
from reporter.standard.evidence import (
    cleared_failures,
    combined,
    patch_attempts,
    wanted_keys,
)
from reporter.standard.inputs import Standard
from reporter.standard.required import (
    RequiredVerdicts,
    deadline,
    missing_on,
    required_verdicts,
)
from reporter.standard.verdict import cover, judged_statuses, reasons_against

STATE_ORDER = [OVERDUE, FAILED, DUE, EXCEPTED, INSTALLED]


def period_attempts(model: ReportModel, standard: Standard) -> pd.DataFrame:
    """The attempts of the model's own figures that can satisfy the baseline (cleared failures
    left out)."""
    keys = wanted_keys(standard.baseline.rows) if standard.baseline else set()
    cleared = cleared_failures(model.patches, model.failed)
    return patch_attempts(model.patches, "this period", keys, cleared)


def servers_to_look_back(
    model: ReportModel, standard: Standard, attempts: pd.DataFrame, reference: datetime
) -> dict[tuple[str, str], datetime]:
    """The servers with a required patch no known attempt satisfies or fails, whose earlier
    executions the look-back searches (SPEC 9): (alias, server) -> the earliest release of
    those patches."""
    if standard.baseline is None or not standard.baseline.rows:
        return {}
    verdicts = required_verdicts(
        model.servers,
        model.attribute_columns,
        standard.baseline.rows,
        combined([period_attempts(model, standard), attempts]),
        standard.sla_days,
        reference,
    )
    return missing_on(verdicts)


def apply_standard(
    model: ReportModel,
    standard: Standard,
    *,
    reference: datetime,
    earlier: pd.DataFrame,
    looked_back: Collection[str] = (),
    problems: Sequence[Problem] = (),
    names: tuple[str | None, str | None] = (None, None),
) -> ReportModel:
    """``model`` measured against ``standard`` at ``reference``.

    Args:
        model: the period's report model (statuses without the standard).
        standard: the baseline and exceptions, with their settings.
        reference: when deadlines and exceptions are judged (SPEC 9).
        earlier: attempts from outside the figures (the executions outside the period, the
            history ledger, the look-back): an attempts frame.
        looked_back: the servers (upper case) whose earlier executions were searched.
        problems: new problems (the standard's rows, look-back fetch failures).
        names: the baseline's and exceptions' file names, as given, for the title block.
    """
    baseline, exceptions = standard.baseline, standard.exceptions
    rows = baseline.rows if baseline is not None else []
    attempts = combined([period_attempts(model, standard), earlier])
    verdicts = required_verdicts(
        model.servers,
        model.attribute_columns,
        rows,
        attempts,
        standard.sla_days,
        reference,
        looked_back,
    )
    items = reasons_against(model.servers, verdicts.frame, verdicts.rows)
    matched = cover(items, model.servers, exceptions.rows if exceptions else [], reference)
    servers, required = judged_statuses(
        model.servers, verdicts.frame, verdicts.rows, items, matched
    )
    servers = sort_servers(servers)
    fleet = rollup(required, verdicts.rows, standard) if rows else model.required_rollup
    required = _worst_first(required, verdicts)
    all_problems = model.problems
    if problems:
        all_problems = pd.concat([model.problems, problem_frame(problems)], ignore_index=True)
        all_problems = all_problems.sort_values(
            ["line", "server_id"], na_position="last", kind="stable"
        ).reset_index(drop=True)
    figures = kpis(
        servers,
        model.executions,
        model.patches,
        len(all_problems),
        reboot_pending_compliant=model.kpis.reboot_pending_compliant,
        outside_period=model.kpis.outside_period,
    )
    state = as_text(required["state"])
    overdue = state == OVERDUE
    figures = dataclasses.replace(
        figures,
        overdue=int(overdue.sum()),
        overdue_servers=int(required.loc[overdue, "server_id"].str.upper().nunique()),
        due=int((state == DUE).sum()),
    )
    summary = StandardSummary(
        baseline_name=names[0] if baseline is not None else None,
        baseline_sha256=baseline.sha256 if baseline is not None else None,
        exceptions_name=names[1] if exceptions is not None else None,
        exceptions_sha256=exceptions.sha256 if exceptions is not None else None,
        reference_date=reference,
        sla_days=dict(standard.sla_days),
        lookback_months=standard.lookback_months,
        not_judged=verdicts.not_judged,
        unknown_os=verdicts.unknown_os,
    )
    return dataclasses.replace(
        model,
        kpis=figures,
        servers=servers,
        problems=all_problems,
        standard=summary,
        required=required,
        required_rollup=fleet,
        exceptions=matched.frame,
    )


def _worst_first(required: pd.DataFrame, verdicts: RequiredVerdicts) -> pd.DataFrame:
    """The required frame by state (overdue first), then server, then baseline order."""
    if required.empty:
        return required
    order = np.lexsort(
        (
            np.array([row.line for row in verdicts.rows]),
            required["server_id"].str.upper().to_numpy(),
            as_text(required["state"]).map(STATE_ORDER.index).to_numpy(),
        )
    )
    return required.iloc[order].reset_index(drop=True)


def rollup(required: pd.DataFrame, rows: Sequence[BaselineRow], standard: Standard) -> pd.DataFrame:
    """Each baseline row across the fleet (REQUIRED_ROLLUP_SCHEMA, in baseline order): the
    servers it applies to and how many are in each state. ``rows`` gives the baseline row of
    each row of ``required``."""
    assert standard.baseline is not None
    counts = Counter(
        zip([row.line for row in rows], as_text(required["state"]).tolist(), strict=True)
    )
    records = []
    for row in standard.baseline.rows:
        mine = {state: counts[(row.line, state)] for state in REQUIRED_STATES}
        records.append(
            {
                "line": row.line,
                "patch": row.patch,
                "title": row.title,
                "classification": row.classification,
                "severity": row.severity,
                "released": row.released_at,
                "deadline": deadline(row, standard.sla_days),
                "servers": sum(mine.values()),
                "installed": mine[INSTALLED],
                "failed": mine[FAILED],
                "due": mine[DUE],
                "overdue": mine[OVERDUE],
                "excepted": mine[EXCEPTED],
            }
        )
    if not records:
        return empty_frame(REQUIRED_ROLLUP_SCHEMA)
    return conform(
        pd.DataFrame(records, columns=REQUIRED_ROLLUP_SCHEMA.names), REQUIRED_ROLLUP_SCHEMA
    )
