"""This period against the recorded ones: the trend, the changes, the persistent failures.

Pure functions of a report model and what the store holds before its period
(:class:`~reporter.history.store.EarlierPeriods`); the result goes into the model, so the
renderers only present it. Servers are matched case-insensitively, as CLC compares IDs.
"""

import dataclasses

import numpy as np
import pandas as pd

from reporter.history.store import EarlierPeriods
from reporter.model import HistorySummary, ReportModel
from reporter.schema import (
    CHANGES_SCHEMA,
    COMPLIANCE_STATUSES,
    NON_COMPLIANT,
    PERSISTENT_FAILURE_SCHEMA,
    TREND_SCHEMA,
    as_text,
    conform,
    counted_as_compliant,
    empty_frame,
)

NEWLY_NON_COMPLIANT = "newly non-compliant"
FIXED = "fixed"
STATUS_CHANGED = "status changed"
NEW = "new to the inventory"
GONE = "gone from the inventory"
CHANGE_ORDER = [NEWLY_NON_COMPLIANT, FIXED, STATUS_CHANGED, NEW, GONE]


def with_history(model: ReportModel, earlier: EarlierPeriods | None, note: str) -> ReportModel:
    """``model`` with its history: trend, changes and persistent failures against ``earlier``.

    Args:
        model: the period's report model.
        earlier: what the store holds before this period (None: history is off).
        note: the one line the reports show when there is no earlier period.
    """
    earlier = earlier or EarlierPeriods()
    trend = trend_frame(model, earlier)
    if not earlier.labels:
        return dataclasses.replace(model, history=HistorySummary(note=note), trend=trend)
    changes = changes_frame(model, earlier.previous_servers)
    persistent = persistent_failures(model, earlier)
    counts = changes["change"].value_counts()
    previous_pct = float(trend["compliance_pct"].iloc[-2])
    summary = HistorySummary(
        note="",
        previous_label=earlier.labels[-1],
        previous_pct=previous_pct,
        points=model.kpis.compliant_pct - previous_pct,
        fixed=int(counts.get(FIXED, 0)),
        newly_non_compliant=int(counts.get(NEWLY_NON_COMPLIANT, 0)),
        changed=int(sum(counts.get(kind, 0) for kind in CHANGE_ORDER[:3])),
        new_servers=int(counts.get(NEW, 0)),
        gone_servers=int(counts.get(GONE, 0)),
        persistent=len(persistent),
    )
    return dataclasses.replace(
        model, history=summary, trend=trend, changes=changes, persistent_failures=persistent
    )


def trend_frame(model: ReportModel, earlier: EarlierPeriods) -> pd.DataFrame:
    """The recorded periods before this one (at most 11) and this one: TREND_SCHEMA."""
    statuses = as_text(model.servers["compliance"]).value_counts()
    current = {
        "label": model.meta.label,
        "period": model.meta.period,
        "generated_at": pd.Timestamp(model.meta.generated_at),
        "servers": model.kpis.servers,
        **{status: int(statuses.get(status, 0)) for status in COMPLIANCE_STATUSES},
        "counted_compliant": model.kpis.compliant,
        "compliance_pct": model.kpis.compliant_pct,
    }
    rows = []
    if not earlier.runs.empty:
        runs = earlier.runs.rename(columns={"compliant": "counted_compliant"})
        runs["generated_at"] = pd.to_datetime(runs["generated_at"], utc=True, errors="coerce")
        for status in COMPLIANCE_STATUSES:
            runs[status] = runs[status].fillna(0) if status in runs.columns else 0
        rows = runs.to_dict("records")
    frame = pd.DataFrame([*rows, current])
    frame["period"] = frame["period"].astype(object).where(frame["period"].notna(), None)
    frame["change_points"] = frame["compliance_pct"].astype(float).diff()
    return conform(frame[TREND_SCHEMA.names], TREND_SCHEMA)


def changes_frame(model: ReportModel, previous: pd.DataFrame) -> pd.DataFrame:
    """Every server whose status changed since ``previous``, new or gone: CHANGES_SCHEMA."""
    servers = model.servers
    now = pd.DataFrame(
        {
            "account_alias": as_text(servers["account_alias"]).to_numpy(),
            "server_id": as_text(servers["server_id"]).to_numpy(),
            "status": as_text(servers["compliance"]).to_numpy(),
            "reason": servers["reason"].to_numpy(dtype=object),
        }
    )
    then = previous.rename(columns={"status": "previous_status", "reason": "previous_reason"})
    for frame in (now, then):
        frame["_key"] = frame["account_alias"].str.upper() + "\0" + frame["server_id"].str.upper()
    merged = now.merge(
        then.drop(columns=["account_alias", "server_id"]), on="_key", how="outer", sort=False
    )
    gone = merged["status"].isna().to_numpy()
    if gone.any():  # name a gone server as the previous period did
        names = then.set_index("_key")
        keys = merged.loc[gone, "_key"]
        merged.loc[gone, "account_alias"] = names.loc[keys, "account_alias"].to_numpy()
        merged.loc[gone, "server_id"] = names.loc[keys, "server_id"].to_numpy()
        merged.loc[gone, "reason"] = names.loc[keys, "previous_reason"].to_numpy()
    new = merged["previous_status"].isna().to_numpy()
    status = merged["status"].to_numpy(dtype=object)
    before = merged["previous_status"].to_numpy(dtype=object)
    counted = list(counted_as_compliant(model.kpis.reboot_pending_compliant))
    differs = ~gone & ~new & (status != before)
    change = np.select(
        [
            gone,
            new,
            differs & (status == NON_COMPLIANT),
            differs & (before == NON_COMPLIANT) & np.isin(status, counted),
            differs,
        ],
        [GONE, NEW, NEWLY_NON_COMPLIANT, FIXED, STATUS_CHANGED],
        default="",
    )
    merged["change"] = change
    merged = merged[change != ""]
    if merged.empty:
        return empty_frame(CHANGES_SCHEMA)
    merged = merged.assign(
        _order=merged["change"].map(CHANGE_ORDER.index),
        _server=merged["server_id"].str.upper(),
    ).sort_values(["_order", "account_alias", "_server"])
    frame = merged[CHANGES_SCHEMA.names].astype(object)
    frame = frame.where(frame.notna(), None)
    return conform(frame.reset_index(drop=True), CHANGES_SCHEMA)


def persistent_failures(model: ReportModel, earlier: EarlierPeriods) -> pd.DataFrame:
    """(server, patch) whose latest attempt failed in this period and the one(s) before it,
    consecutively: PERSISTENT_FAILURE_SCHEMA, longest streak first."""
    failed = model.failed
    if failed.empty or not earlier.labels:
        return empty_frame(PERSISTENT_FAILURE_SCHEMA)
    still = failed[failed["still_failing"].fillna(False).to_numpy(dtype=bool)]
    when = still["patch_end"].fillna(still["patch_start"]).fillna(still["execution_start"])
    rows = []
    for alias, server, key, title, moment in zip(
        as_text(still["account_alias"]).tolist(),
        as_text(still["server_id"]).tolist(),
        as_text(still["patch_key"]).tolist(),
        still["title"].astype(object).tolist(),
        when.tolist(),
        strict=True,
    ):
        periods, since = 1, model.meta.label
        for label in reversed(earlier.labels):
            if (label, alias.upper(), server.upper(), key) not in earlier.failing:
                break
            periods, since = periods + 1, label
        if periods >= 2:
            rows.append((alias, server, key, title, since, periods, moment))
    if not rows:
        return empty_frame(PERSISTENT_FAILURE_SCHEMA)
    frame = pd.DataFrame(rows, columns=PERSISTENT_FAILURE_SCHEMA.names)
    frame["_server"] = frame["server_id"].str.upper()
    frame = frame.sort_values(
        ["periods", "account_alias", "_server", "patch_key"], ascending=[False, True, True, True]
    )
    return conform(frame.drop(columns="_server").reset_index(drop=True), PERSISTENT_FAILURE_SCHEMA)
