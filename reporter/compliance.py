"""Compliance (SPEC 4): which executions count, each patch's latest attempt, each server's status.

All of it is vectorised over the frames from :mod:`reporter.frames`: executions and patches
carry the working column ``_server`` (the server's row in the server table) and patches carry
``_exec`` (their execution's row). "Latest" means: latest execution start (an unknown start
counts as the latest, since only executions that have not started lack one), then the order
the executions were fetched in, then the patch's position in its execution.
"""

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from reporter.derive import CLASSIFICATIONS, OUTCOMES, categorical
from reporter.frames import ServerTable
from reporter.model import Kpis
from reporter.outcomes import joined_keys, reboot_pending
from reporter.problems import Problem
from reporter.reasons import server_reasons
from reporter.records import FetchedExecution, Period
from reporter.schema import (
    COMPLIANCE_STATUSES,
    COMPLIANT,
    COMPLIANT_EXCEPTED,
    FAILURE_SUMMARY_SCHEMA,
    HRESULT_SCHEMA,
    IN_PROGRESS,
    INT,
    NO_DATA,
    NON_COMPLIANT,
    OUTSIDE_PERIOD_SCHEMA,
    PATCH_ROLLUP_SCHEMA,
    REBOOT_PENDING,
    conform,
    counted_as_compliant,
    empty_frame,
)

SORT_ORDER = [NON_COMPLIANT, IN_PROGRESS, NO_DATA, REBOOT_PENDING, COMPLIANT_EXCEPTED, COMPLIANT]
TOP = 10
_NAT = np.iinfo(np.int64).max  # unknown starts sort last, i.e. as the latest


def place_in_period(
    executions: pd.DataFrame,
    fetched: Sequence[FetchedExecution],
    period: Period | None,
    now: datetime,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Positions of the executions in the figures, and the executions outside the period
    (OUTSIDE_PERIOD_SCHEMA): listed apart, not problems (SPEC 4).

    A pending or running execution whose start the API does not know yet (SPEC 1: times are
    empty until known) is taken to be happening now: it belongs to the period if ``now`` does,
    so a run early in the month shows its servers as in progress rather than without data.
    """
    if period is None:
        return np.arange(len(executions)), empty_frame(OUTSIDE_PERIOD_SCHEMA)
    start = executions["start"]
    inside = ((start >= pd.Timestamp(period.start)) & (start < pd.Timestamp(period.end))).to_numpy(
        dtype=bool, na_value=False
    )
    if period.contains(now):
        underway = executions["status"].isin(["pending", "running"]).to_numpy(dtype=bool)
        inside = inside | (underway & start.isna().to_numpy())
    rows: list[dict[str, object]] = []
    for position in np.flatnonzero(~inside).tolist():
        item = fetched[position]
        moment = start.iloc[position]
        if pd.isna(moment):
            reason = f"start time unknown; cannot place it in {period}"
        else:
            reason = f"started {moment:%Y-%m-%d}, outside {period}"
        rows.append(
            {
                "line": item.line,
                "account_alias": item.account_alias,
                "server_id": item.server_id,
                "execution_id": item.execution_id,
                "status": executions["status"].iloc[position],
                "start": moment,
                "reason": reason,
            }
        )
    outside = pd.DataFrame(rows, columns=OUTSIDE_PERIOD_SCHEMA.names)
    return np.flatnonzero(inside), conform(outside, OUTSIDE_PERIOD_SCHEMA)


def execution_recency(executions: pd.DataFrame) -> np.ndarray:
    """Each execution's position in (server, start, fetch order): higher is later on a server."""
    start = executions["start"].to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
    start[executions["start"].isna().to_numpy()] = _NAT
    order = np.lexsort((np.arange(len(executions)), start, executions["_server"].to_numpy()))
    recency = np.empty(len(executions), dtype=np.int64)
    recency[order] = np.arange(len(executions))
    return recency


def latest_attempts(patches: pd.DataFrame, recency: np.ndarray) -> np.ndarray:
    """Boolean per patch row: it is the latest attempt of its patch key on its server."""
    if patches.empty:
        return np.zeros(0, dtype=bool)
    server = patches["_server"].to_numpy()
    key = patches["patch_key"].cat.codes.to_numpy()
    order = np.lexsort(
        (
            patches["patch_seq"].to_numpy(dtype=np.int64),
            recency[patches["_exec"].to_numpy()],
            key,
            server,
        )
    )
    server, key = server[order], key[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (server[1:] != server[:-1]) | (key[1:] != key[:-1])
    latest = np.zeros(len(order), dtype=bool)
    latest[order[last]] = True
    return latest


def outcome_counts(patches: pd.DataFrame, groups: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Attempts per group (e.g. per execution) by outcome: succeeded, warnings, failed, ..."""
    outcome = patches["outcome"].cat.codes.to_numpy()
    names = ["succeeded", "warnings", "failed", "in_progress"]
    return {
        name: np.bincount(groups[outcome == code], minlength=size)
        for code, name in enumerate(names)
    }


def server_frame(
    servers: ServerTable,
    executions: pd.DataFrame,
    patches: pd.DataFrame,
    latest: np.ndarray,
    failing: np.ndarray,
    recency: np.ndarray,
    problems: Sequence[Problem],
) -> pd.DataFrame:
    """The servers frame (SERVER_SCHEMA, and ``_server``) for every server, sorted worst
    first, then by server.

    ``failing`` marks the attempts that make a server non-compliant
    (:func:`~reporter.outcomes.failing_attempts`). Without a standard the statuses are final;
    a standard (:mod:`reporter.standard`) may turn some into Non-compliant or Compliant
    (excepted).
    """
    size = len(servers.server_ids)
    exec_server = executions["_server"].to_numpy()
    runs = np.bincount(exec_server, minlength=size)
    # Each server's latest execution: the highest recency rank among its executions.
    latest_rank = np.full(size, -1, dtype=np.int64)
    np.maximum.at(latest_rank, exec_server, recency)
    by_rank = np.empty(len(recency), dtype=np.int64)
    by_rank[recency] = np.arange(len(recency))
    has_exec = latest_rank >= 0
    last_exec = np.full(size, -1, dtype=np.int64)
    last_exec[has_exec] = by_rank[latest_rank[has_exec]]

    def latest_value(column: str) -> pd.api.extensions.ExtensionArray:
        return executions[column].array.take(last_exec, allow_fill=True)

    latest_status = latest_value("status")
    patch_server = patches["_server"].to_numpy()
    counts = outcome_counts(patches, patch_server, size)
    failed_keys = joined_keys(patch_server[failing], patches["patch_key"].array[failing], size)
    status_text = np.asarray(latest_status.astype(object), dtype=object)
    restart, restart_keys = reboot_pending(patches, latest, executions, recency, size)
    cleared = latest & (patches["outcome"] == "failed").to_numpy() & ~failing
    cleared_keys = joined_keys(patch_server[cleared], patches["patch_key"].array[cleared], size)
    compliance = np.select(
        [
            ~has_exec,
            np.isin(status_text, ["pending", "running"]),
            (np.bincount(patch_server[failing], minlength=size) > 0)
            # A latest execution that failed, or whose status is not one the API documents,
            # does not show the server patched: it is not counted as compliant.
            | np.isin(status_text, ["failed", "unknown"]),
            restart,
        ],
        [NO_DATA, IN_PROGRESS, NON_COMPLIANT, REBOOT_PENDING],
        default=COMPLIANT,
    )
    frame = pd.DataFrame(
        {
            "_server": np.arange(size),
            "account_alias": servers.column("account_alias", np.arange(size)),
            "server_id": servers.column("server_id", np.arange(size)),
            "compliance": pd.Categorical(compliance, categories=COMPLIANCE_STATUSES),
            "reason": "",
            "executions": pd.array(runs, dtype="Int64"),
            "patches_attempted": pd.array(np.bincount(patch_server, minlength=size), dtype="Int64"),
            "succeeded": pd.array(counts["succeeded"], dtype="Int64"),
            "warnings": pd.array(counts["warnings"], dtype="Int64"),
            "failed": pd.array(counts["failed"], dtype="Int64"),
            "failed_kbs": failed_keys,
            "latest_execution_id": latest_value("execution_id"),
            "latest_execution_start": latest_value("start"),
            "latest_execution_status": latest_status,
            "last_success": _last_success(patches, size),
        }
    )
    no_details = latest_value("details_missing").fillna(False).to_numpy(dtype=bool)
    frame["reason"] = server_reasons(
        frame,
        no_details.tolist(),
        latest_value("patch_count").tolist(),
        restart_keys,
        cleared_keys,
        problems,
    )
    return sort_servers(frame)


def sort_servers(frame: pd.DataFrame) -> pd.DataFrame:
    """A servers frame worst status first (:data:`SORT_ORDER`), then by server ID (any case),
    then by account."""
    status = frame["compliance"].astype(object).to_numpy()
    rank = np.select([status == name for name in SORT_ORDER], range(len(SORT_ORDER)))
    ids = frame["server_id"].astype(object).tolist()
    by_name = categorical(np.arange(len(ids)), [str(name).upper() for name in ids])
    order = np.lexsort((frame["account_alias"].cat.codes, by_name.codes, rank))
    return frame.iloc[order].reset_index(drop=True)


def _last_success(patches: pd.DataFrame, size: int) -> pd.api.extensions.ExtensionArray:
    """Per server, when its latest successful (or warning) attempt ended, best known time."""
    ok = patches["outcome"].isin(["succeeded", "warning"]).to_numpy()
    moment = patches["patch_end"].fillna(patches["execution_end"])
    moment = moment.fillna(patches["execution_start"])[ok]
    best = moment.groupby(patches["_server"].to_numpy()[ok]).max()
    return pd.array(best.reindex(range(size)).astype("datetime64[ns, UTC]"))


def patch_rollup(patches: pd.DataFrame, latest: np.ndarray, failing: np.ndarray) -> pd.DataFrame:
    """Per patch key: servers whose latest attempt is in the figures, split by that attempt's
    outcome (succeeded, warnings, in progress, failed: they add up), and all attempts.

    A failure a later up-to-date run cleared (``failing``, see
    :func:`~reporter.outcomes.failing_attempts`) is no longer the server's last word on the
    patch: that server is left out of the servers counted.
    """
    key = patches["patch_key"].cat.codes.to_numpy()
    size = len(patches["patch_key"].cat.categories)
    outcome = patches["outcome"].to_numpy()
    latest = latest & ~(latest & (outcome == "failed") & ~failing)
    attempts = np.bincount(key, minlength=size)
    used, first = np.unique(key, return_index=True)

    def servers(with_outcome: str | None = None) -> np.ndarray:
        chosen = latest if with_outcome is None else latest & (outcome == with_outcome)
        return np.bincount(key[chosen], minlength=size)[used]

    frame = pd.DataFrame(
        {
            "patch_key": patches["patch_key"].cat.categories[used].astype(object),
            "kb": patches["kb"].to_numpy(dtype=object)[first],
            "title": patches["title"].to_numpy(dtype=object)[first],
            "classification": patches["classification"].to_numpy(dtype=object)[first],
            "servers_attempted": servers(),
            "servers_succeeded": servers("succeeded"),
            "servers_warnings": servers("warning"),
            "servers_in_progress": servers("in progress"),
            "servers_failed": servers("failed"),
            "attempts": attempts[used],
        },
        columns=PATCH_ROLLUP_SCHEMA.names,
    )
    # A Linux package is one patch whatever its version: name the package, not one release.
    package = (frame["classification"] == "Linux package").to_numpy() & frame[
        "kb"
    ].isna().to_numpy()
    frame.loc[package, "title"] = frame.loc[package, "patch_key"] + " (any version)"
    for column in PATCH_ROLLUP_SCHEMA.columns:
        if column.dtype == INT:
            frame[column.name] = frame[column.name].astype(INT)
    frame = frame.sort_values(["servers_failed", "patch_key"], ascending=[False, True])
    return frame.reset_index(drop=True)


def still_failing(failing: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Per attempt: it failed, is the latest attempt of its patch on its server, and no later
    up-to-date run cleared it (``failing``, see :func:`~reporter.outcomes.failing_attempts`)."""
    return pd.array(failing, dtype="boolean")


def failed_attempts(patches: pd.DataFrame) -> pd.DataFrame:
    """Every failed attempt (``still_failing`` says which still count)."""
    return patches.loc[(patches["outcome"] == "failed").to_numpy()]


def failure_summary(failed: pd.DataFrame) -> pd.DataFrame:
    """Failed attempts per (patch key, result, HRESULT): most servers, then attempts, first."""
    if failed.empty:
        return empty_frame(FAILURE_SUMMARY_SCHEMA)
    keys = ["patch_key", "result", "hresult"]
    grouped = failed.groupby(keys, observed=True, dropna=False, sort=False)
    summary = grouped.agg(
        title=("title", "first"),
        kb=("kb", "first"),
        result_code=("result_code", "first"),
        result_meaning=("result_meaning", "first"),
        hresult_name=("hresult_name", "first"),
        hresult_meaning=("hresult_meaning", "first"),
        attempts=("server_id", "size"),
    )
    # Servers are (account, server) pairs: the same ID in two accounts is two servers.
    distinct = failed.drop_duplicates([*keys, "account_alias", "server_id"])
    servers = distinct.groupby(keys, observed=True, dropna=False, sort=False).size()
    summary["servers"] = servers.reindex(summary.index).astype("Int64")
    summary["attempts"] = summary["attempts"].astype("Int64")
    summary = summary.reset_index()[FAILURE_SUMMARY_SCHEMA.names]
    ordered = summary.sort_values(
        ["servers", "attempts", "patch_key"], ascending=[False, False, True]
    )
    return ordered.reset_index(drop=True)


def hresults_seen(patches: pd.DataFrame) -> pd.DataFrame:
    """Every HRESULT among the attempts (failures, reboot notices, ...), with its count."""
    known = patches[patches["hresult"].notna()]
    if known.empty:
        return empty_frame(HRESULT_SCHEMA)
    columns = ["hresult", "hresult_name", "hresult_meaning"]
    counted = known.groupby("hresult", observed=True).agg(
        hresult_name=("hresult_name", "first"),
        hresult_meaning=("hresult_meaning", "first"),
        attempts=("hresult", "size"),
    )
    counted["attempts"] = counted["attempts"].astype("Int64")
    frame = counted.reset_index()
    frame[columns] = frame[columns].astype(object)
    return frame[HRESULT_SCHEMA.names].sort_values("hresult").reset_index(drop=True)


def results_by_classification(patches: pd.DataFrame) -> pd.DataFrame:
    """Attempts per classification (index) and outcome (columns, in :data:`OUTCOMES` order)."""
    classes = patches["classification"].cat.codes.to_numpy(dtype=np.int64)
    outcomes = patches["outcome"].cat.codes.to_numpy(dtype=np.int64)
    counts = np.bincount(
        classes * len(OUTCOMES) + outcomes, minlength=len(CLASSIFICATIONS) * len(OUTCOMES)
    ).reshape(len(CLASSIFICATIONS), len(OUTCOMES))
    used = counts.sum(axis=1) > 0
    return pd.DataFrame(
        counts[used],
        index=pd.Index(np.array(CLASSIFICATIONS, dtype=object)[used], name="classification"),
        columns=pd.Index(OUTCOMES, dtype=object),
    )


def failures_by_kb(patches: pd.DataFrame, failing: np.ndarray) -> pd.Series:
    """The patch keys still failing on the most servers, top entries first."""
    keys = patches["patch_key"].cat
    counts = np.bincount(keys.codes.to_numpy()[failing], minlength=len(keys.categories))
    return _top(counts, list(keys.categories), "patch_key", "servers")


def failures_by_server(patches: pd.DataFrame, failing: np.ndarray) -> pd.Series:
    """The servers with the most patches still failing, top entries first."""
    rows = patches["_server"].to_numpy()[failing]
    size = int(patches["_server"].max()) + 1 if len(patches) else 0
    names = dict(zip(rows.tolist(), patches["server_id"].array[failing].tolist(), strict=True))
    counts = np.bincount(rows, minlength=size)
    return _top(counts, [names.get(row, "") for row in range(size)], "server_id", "patches")


def _top(counts: np.ndarray, names: list[str], index: str, name: str) -> pd.Series:
    """The ``TOP`` largest non-zero counts, ties by name, as an ``Int64`` series."""
    ranked = sorted((-int(n), label) for n, label in zip(counts, names, strict=True) if n)[:TOP]
    return pd.Series(
        pd.array([-n for n, _ in ranked], dtype="Int64"),
        index=pd.Index([label for _, label in ranked], name=index, dtype=object),
        name=name,
    )


def kpis(
    servers: pd.DataFrame,
    executions: pd.DataFrame,
    patches: pd.DataFrame,
    problems: int,
    *,
    reboot_pending_compliant: bool = True,
    outside_period: int = 0,
) -> Kpis:
    """The executive-summary figures (outcome counts are disjoint: warnings not in succeeded).

    ``compliant`` counts the statuses :func:`~reporter.schema.counted_as_compliant` names
    under the reboot policy; the patches of executions that gave only a count are the
    ``unknown_outcome`` count.
    """
    status = servers["compliance"].value_counts()
    outcome = patches["outcome"].value_counts()
    counted = counted_as_compliant(reboot_pending_compliant)
    bare = executions["details_missing"].fillna(False).to_numpy(dtype=bool)
    return Kpis(
        servers=len(servers),
        compliant=sum(int(status.get(name, 0)) for name in counted),
        non_compliant=int(status.get(NON_COMPLIANT, 0)),
        in_progress=int(status.get(IN_PROGRESS, 0)),
        no_data=int(status.get(NO_DATA, 0)),
        executions=len(executions),
        patches_attempted=len(patches),
        succeeded=int(outcome.get("succeeded", 0)),
        warnings=int(outcome.get("warning", 0)),
        failed=int(outcome.get("failed", 0)),
        in_progress_patches=int(outcome.get("in progress", 0)),
        problems=problems,
        reboot_pending=int(status.get(REBOOT_PENDING, 0)),
        excepted=int(status.get(COMPLIANT_EXCEPTED, 0)),
        reboot_pending_compliant=reboot_pending_compliant,
        unknown_outcome=int(executions["patch_count"].fillna(0).to_numpy()[bare].sum()),
        outside_period=outside_period,
    )
