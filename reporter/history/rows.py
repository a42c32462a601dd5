"""A report model as the rows the history store records for its period.

Nothing here touches the database: :func:`period_record` turns a model into plain rows, and
:mod:`reporter.history.store` writes them.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from reporter.model import ReportModel
from reporter.schema import as_text

SUCCESS_OUTCOMES = ("succeeded", "warning")
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def accounts_key(accounts: Sequence[str]) -> str:
    """The accounts a period covers, as the store keys it: ``"OSD"``, ``"ABC,OSD"``."""
    return ",".join(sorted({alias.upper() for alias in accounts}))


def iso_utc(moment: datetime | pd.Timestamp) -> str:
    """A moment as the store writes it: ``2026-10-14T03:12:00Z``."""
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime(ISO_UTC)


@dataclass(frozen=True)
class PeriodRecord:
    """One period's rows: the ``runs`` row, its counts, its servers and its patch ledger.

    ``patches`` hold this period's last success only; the store carries earlier successes
    forward when it writes them.
    """

    run: dict[str, Any]
    statuses: list[tuple[str, int]]  # (status, servers)
    attempts: list[tuple[str, int]]  # (outcome, attempts)
    servers: list[tuple[str, str, str, str, str]]  # alias, server, status, reason, attributes
    patches: list[tuple[str, str, str, str, str | None, str | None, str | None]]
    # alias, server, patch key, outcome of the latest attempt, when, last success (this period),
    # and the version-release that success installed (Linux packages)

    @property
    def label(self) -> str:
        """The period's label."""
        return str(self.run["label"])

    @property
    def accounts(self) -> str:
        """The accounts key."""
        return str(self.run["accounts"])


def period_record(model: ReportModel, recorded_at: datetime) -> PeriodRecord:
    """The rows that record ``model``'s period."""
    meta, kpis = model.meta, model.kpis
    run = {
        "label": meta.label,
        "accounts": accounts_key(meta.accounts),
        "period": meta.period,
        "generated_at": iso_utc(meta.generated_at),
        "recorded_at": iso_utc(recorded_at),
        "title": meta.title,
        "data_source": meta.data_source,
        "input_name": meta.input_name,
        "input_sha256": meta.input_sha256,
        "manifest_sha256": meta.manifest_sha256,
        "tool_version": meta.tool_version,
        "servers": kpis.servers,
        "compliant": kpis.compliant,
        "compliance_pct": kpis.compliant_pct,
        "executions": kpis.executions,
        "patches_attempted": kpis.patches_attempted,
        "problems": kpis.problems,
    }
    return PeriodRecord(
        run=run,
        statuses=_counts(model.servers["compliance"]),
        attempts=_counts(model.patches["outcome"]),
        servers=_server_rows(model),
        patches=_ledger_rows(model),
    )


def _counts(values: pd.Series) -> list[tuple[str, int]]:
    """Each value's count; every category of a categorical column, even at zero."""
    counts = values.astype(values.dtype).value_counts(sort=False)
    return [(str(name), int(count)) for name, count in counts.items()]


def _server_rows(model: ReportModel) -> list[tuple[str, str, str, str, str]]:
    servers = model.servers
    attributes = [name for name in model.attribute_columns if name in servers.columns]
    values = [servers[name].astype(object).tolist() for name in attributes]
    rows = []
    for position, (alias, server, status, reason) in enumerate(
        zip(
            as_text(servers["account_alias"]).tolist(),
            as_text(servers["server_id"]).tolist(),
            as_text(servers["compliance"]).tolist(),
            servers["reason"].tolist(),
            strict=True,
        )
    ):
        known = {
            name: column[position]
            for name, column in zip(attributes, values, strict=True)
            if isinstance(column[position], str)
        }
        rows.append((alias, server, status, reason or "", json.dumps(known, ensure_ascii=False)))
    return rows


def _ledger_rows(
    model: ReportModel,
) -> list[tuple[str, str, str, str, str | None, str | None, str | None]]:
    """Per (server, patch key): the latest attempt's outcome and time, and this period's last
    success with the version it installed. The patches frame is in recency order: the last row
    of a key is its latest."""
    patches = model.patches
    if patches.empty:
        return []
    # The server as the servers frame spells it: the same server may be written differently
    # on two inventory rows.
    spelling = dict(
        zip(
            as_text(model.servers["server_id"]).str.upper(),
            as_text(model.servers["server_id"]),
            strict=True,
        )
    )
    ended = patches["patch_end"].fillna(patches["execution_end"])
    frame = pd.DataFrame(
        {
            "alias": as_text(patches["account_alias"]),
            "server": as_text(patches["server_id"]).str.upper(),
            "key": as_text(patches["patch_key"]),
            "outcome": as_text(patches["outcome"]),
            "when": patches["patch_end"]
            .fillna(patches["patch_start"])
            .fillna(patches["execution_start"]),
            "ended": ended.fillna(patches["execution_start"]),
            "version": _versions(patches),
        }
    ).reset_index(drop=True)
    keys = ["alias", "server", "key"]
    latest = frame.drop_duplicates(keys, keep="last")
    ok = frame["outcome"].isin(SUCCESS_OUTCOMES).to_numpy()
    # The latest success of each key: the last of its rows once sorted by when it ended.
    success = (
        frame[ok]
        .sort_values("ended", kind="stable", na_position="first")
        .drop_duplicates(keys, keep="last")
        .set_index(keys)
    )
    where = pd.MultiIndex.from_frame(latest[keys])
    last_success = success["ended"].reindex(where)
    version = success["version"].reindex(where)
    return list(
        zip(
            latest["alias"].tolist(),
            [spelling.get(server, server) for server in latest["server"].tolist()],
            latest["key"].tolist(),
            latest["outcome"].tolist(),
            _texts(latest["when"]),
            _texts(pd.Series(last_success.to_numpy(), dtype=frame["ended"].dtype)),
            [value if isinstance(value, str) else None for value in version.tolist()],
            strict=True,
        )
    )


def _versions(patches: pd.DataFrame) -> pd.Series:
    """Each attempt's version-release for a Linux package (None otherwise)."""
    version = patches["rpm_version"].astype("string")
    joined = (version + "-" + patches["rpm_release"].astype("string")).fillna(version)
    return joined.astype(object).where(joined.notna(), None).reset_index(drop=True)


def _texts(moments: pd.Series) -> list[str | None]:
    """Times as the store writes them, None where unknown (vectorised: ledgers are long)."""
    text = moments.dt.tz_convert("UTC").dt.strftime(ISO_UTC)
    return [value if isinstance(value, str) else None for value in text.tolist()]
