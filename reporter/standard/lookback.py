"""Measuring a report against its standard with everything known about earlier installations
(SPEC 9): the executions fetched for the run but outside the period, the history ledger, and,
for a server still missing a required patch, its earlier executions looked up through the same
fetch loop (kept as evidence, never counted in the period's figures).
"""

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

import pandas as pd

from reporter.fetch import FetchResult
from reporter.model import ReportModel
from reporter.problems import FailureKind, Problem
from reporter.records import FetchedExecution, Period, Target, Window
from reporter.report import patch_rows
from reporter.standard.evidence import combined, ledger_attempts, patch_attempts, wanted_keys
from reporter.standard.inputs import Standard
from reporter.standard.judge import apply_standard, servers_to_look_back
from reporter.standard.ledger import LedgerReader

# Fetch the executions of server-only targets started in a window, skipping those already had.
FetchEarlier = Callable[[list[Target], Window, frozenset[tuple[str, str, str]]], FetchResult]


def measure(
    model: ReportModel,
    standard: Standard,
    *,
    reference: datetime,
    period: Period | None,
    fetched: Sequence[FetchedExecution],
    fetch_earlier: FetchEarlier | None,
    ledger: LedgerReader | None,
    names: tuple[str | None, str | None],
    from_archive: bool = False,
) -> ReportModel:
    """``model`` measured against ``standard`` (see :func:`~reporter.standard.apply_standard`).

    Args:
        model: the period's report model.
        standard: the baseline and exceptions, with their settings.
        reference: when deadlines and exceptions are judged (SPEC 9).
        period: the report's month, if any: the look-back ends where it starts (else at
            ``reference``).
        fetched: every execution fetched for the run (those outside the period are evidence).
        fetch_earlier: the look-back's fetch (None: no look-back).
        ledger: reads the history ledger (None: no history).
        names: the baseline's and exceptions' file names, for the title block.
        from_archive: the answers come from saved evidence: a look-back answer the archive
            does not hold is not a problem (the run did not need it then).
    """
    problems: list[Problem] = list(standard.problems)
    if standard.baseline is None:
        return apply_standard(
            model, standard, reference=reference, earlier=_nothing(), problems=problems, names=names
        )
    keys = wanted_keys(standard.baseline.rows)
    outside = _outside_executions(model, fetched)
    earlier = combined(
        [
            patch_attempts(patch_rows(outside), "outside the period", keys)
            if outside
            else _nothing(),
            ledger_attempts(ledger(model.meta.accounts, model.meta.label, keys))
            if ledger is not None and keys
            else _nothing(),
        ]
    )
    looked: set[str] = set()
    end = period.start if period is not None else reference
    window = Window.months_before(end, standard.lookback_months)
    # Nothing installs a patch before its release: a server whose missing patches were all
    # released in the period has nothing earlier to find.
    wanted = {
        server: released
        for server, released in servers_to_look_back(model, standard, earlier, reference).items()
        if released < end
    }
    if wanted and fetch_earlier is not None and standard.lookback_months > 0:
        window = Window(max(window.start, min(wanted.values())), end)
        targets = [Target(alias, server, None) for alias, server in wanted]
        had = frozenset(
            (item.account_alias.upper(), item.server_id.upper(), item.execution_id.upper())
            for item in fetched
        )
        result = fetch_earlier(targets, window, had)
        found = patch_attempts(patch_rows(result.executions), "look-back", keys)
        earlier = combined([earlier, found])
        looked = {server.upper() for _, server in wanted}
        problems.extend(_lookback_problems(result.problems, window, from_archive))
    return apply_standard(
        model,
        standard,
        reference=reference,
        earlier=earlier,
        looked_back=looked,
        problems=problems,
        names=names,
    )


def _nothing() -> pd.DataFrame:
    return combined([])


def _outside_executions(
    model: ReportModel, fetched: Sequence[FetchedExecution]
) -> list[FetchedExecution]:
    """The fetched executions the model lists outside the period."""
    outside = model.outside_period
    if outside.empty:
        return []
    keys = set(
        zip(
            outside["account_alias"].str.upper(),
            outside["server_id"].str.upper(),
            outside["execution_id"].str.upper(),
            strict=True,
        )
    )
    return [
        item
        for item in fetched
        if (item.account_alias.upper(), item.server_id.upper(), item.execution_id.upper()) in keys
    ]


def _lookback_problems(
    problems: Sequence[Problem], window: Window, from_archive: bool
) -> list[Problem]:
    """The look-back's fetch failures, said as such. A server with nothing earlier is not a
    problem, nor, reading an archive, an answer the original run never needed."""
    kept = []
    for problem in problems:
        if problem.cause is None:
            continue
        if from_archive and problem.cause is FailureKind.MISSING_EVIDENCE:
            continue
        kept.append(
            dataclasses.replace(
                problem, reason=f"looking back ({window}) for installed patches: {problem.reason}"
            )
        )
    return kept
