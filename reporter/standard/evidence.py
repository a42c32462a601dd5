"""The attempts a standard is judged on: every known try of a patch on a server, from this
period's figures, the executions outside the period, the history ledger and the look-back
(SPEC 9: "Installed: a success in any execution fetched for the run, or in the history
ledger; ... look back through the server's earlier executions").

An attempts frame has :data:`ATTEMPT_COLUMNS`: one row per (server, patch) try whose outcome
is known (succeeded, warning or failed), with where it came from.
"""

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from reporter.derive import KB_NUMBER, RPM_ARCHES
from reporter.history import LedgerEntry
from reporter.schema import as_text
from reporter.standard.baseline import BaselineRow

ATTEMPT_COLUMNS = [
    "alias",  # account alias, upper case
    "server",  # server ID, upper case
    "key",  # the patch key (SPEC 4)
    "kb",  # the primary KB number, if any
    "name",  # a Linux package's name
    "arch",  # its architecture
    "version",  # its version-release, when known
    "outcome",  # succeeded, warning or failed
    "at",  # when (UTC)
    "source",  # EVIDENCE_SOURCES: this period, outside the period, history, look-back
    "where",  # the execution ID, or the recorded period's label
    "title",  # the patch's title, when known
]
FINAL_OUTCOMES = ("succeeded", "warning", "failed")
_ARCHES = set(RPM_ARCHES.split("|"))


def empty_attempts() -> pd.DataFrame:
    """An attempts frame with no rows."""
    return pd.DataFrame({name: pd.Series(dtype=object) for name in ATTEMPT_COLUMNS})


def wanted_keys(rows: Iterable[BaselineRow]) -> set[str]:
    """Every patch key that can satisfy one of the baseline's rows."""
    return {key for row in rows for alternative in row.alternatives for key in alternative.keys}


def patch_attempts(
    patches: pd.DataFrame,
    source: str,
    keys: set[str] | None = None,
    cleared: np.ndarray | None = None,
) -> pd.DataFrame:
    """The attempts of a patches frame (PATCH_SCHEMA columns) with a final outcome.

    Args:
        patches: the attempts, in recency order.
        source: where they come from (an EVIDENCE_SOURCES value).
        keys: keep only these patch keys (None: all).
        cleared: per row, a failed attempt that a later up-to-date run cleared (SPEC 4): left
            out, since it no longer says the patch failed.
    """
    if patches.empty:
        return empty_attempts()
    keep = patches["outcome"].isin(FINAL_OUTCOMES).to_numpy().copy()
    if keys is not None:
        keep &= patches["patch_key"].astype(object).isin(keys).to_numpy()
    if cleared is not None:
        keep &= ~cleared
    chosen = patches[keep]
    version = chosen["rpm_version"].astype("string")
    joined = (version + "-" + chosen["rpm_release"].astype("string")).fillna(version)
    frame = pd.DataFrame(
        {
            "alias": as_text(chosen["account_alias"]).str.upper(),
            "server": as_text(chosen["server_id"]).str.upper(),
            "key": chosen["patch_key"].astype(object),
            "kb": chosen["kb"].astype(object),
            "name": chosen["rpm_name"].astype(object),
            "arch": chosen["rpm_arch"].astype(object),
            "version": joined.astype(object),
            "outcome": as_text(chosen["outcome"]),
            "at": chosen["patch_end"]
            .fillna(chosen["patch_start"])
            .fillna(chosen["execution_end"])
            .fillna(chosen["execution_start"]),
            "source": source,
            "where": chosen["execution_id"].astype(object),
            "title": chosen["title"].astype(object),
        }
    )
    return _missing_as_none(frame.reset_index(drop=True))


def cleared_failures(patches: pd.DataFrame, failed: pd.DataFrame) -> np.ndarray:
    """Per row of a model's ``patches``: a failed attempt that is its patch's latest on its
    server yet not still failing (its ``failed`` row says so), i.e. cleared by a later
    up-to-date run (SPEC 4). ``failed`` holds the failed rows of ``patches``, in order."""
    cleared = np.zeros(len(patches), dtype=bool)
    failed_rows = np.flatnonzero((patches["outcome"] == "failed").to_numpy())
    if not len(failed_rows) or len(failed_rows) != len(failed):
        return cleared
    names = ["account_alias", "server_id", "patch_key"]
    latest = ~patches.duplicated(names, keep="last").to_numpy()
    still = failed["still_failing"].fillna(True).to_numpy(dtype=bool)
    cleared[failed_rows] = latest[failed_rows] & ~still
    return cleared


def ledger_attempts(entries: Sequence[LedgerEntry]) -> pd.DataFrame:
    """The history ledger's rows as attempts: each period's last success (with the version it
    installed) and, when it failed, its latest failure."""
    rows = []
    for entry in entries:
        kb, name, arch = key_parts(entry.patch_key)
        base = {
            "alias": entry.account_alias.upper(),
            "server": entry.server_id.upper(),
            "key": entry.patch_key,
            "kb": kb,
            "name": name,
            "arch": arch,
            "source": "history",
            "where": entry.label,
            "title": None,
        }
        if entry.last_success_at:
            rows.append(
                {
                    **base,
                    "version": entry.last_success_version,
                    "outcome": "succeeded",
                    "at": entry.last_success_at,
                }
            )
        if entry.outcome == "failed" and entry.attempted_at:
            rows.append({**base, "version": None, "outcome": "failed", "at": entry.attempted_at})
    if not rows:
        return empty_attempts()
    frame = pd.DataFrame(rows, columns=ATTEMPT_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, errors="coerce")
    return _missing_as_none(frame.drop_duplicates().reset_index(drop=True))


def key_parts(key: str) -> tuple[str | None, str | None, str | None]:
    """(kb, package name, arch) of a patch key: ``KB5031361`` or ``openssl.x86_64``."""
    if KB_NUMBER.fullmatch(key):
        return key, None, None
    name, dot, arch = key.rpartition(".")
    if dot and name and arch in _ARCHES:
        return None, name, arch
    return None, None, None


def _missing_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing text values as None (not NaN or pd.NA), so plain comparisons work."""
    for column in ATTEMPT_COLUMNS:
        if column != "at":
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), None)
    return frame


def combined(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One attempts frame from several, oldest first (ties keep the order given)."""
    used = [frame for frame in frames if not frame.empty]
    if not used:
        return empty_attempts()
    whole = pd.concat(used, ignore_index=True)
    whole["at"] = pd.to_datetime(whole["at"], utc=True)
    return whole.sort_values("at", kind="stable", na_position="first").reset_index(drop=True)
