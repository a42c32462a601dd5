"""What a server's latest attempts mean (SPEC 4): failures that still count, restarts pending.

Vectorised over the frames of :mod:`reporter.frames`, with the recency ranks of
:func:`reporter.compliance.execution_recency` (higher is later on a server).
"""

import numpy as np
import pandas as pd

from reporter.codes import SUCCESS_REBOOT_HRESULTS, format_hresult

_REBOOT_CODES = [format_hresult(code) for code in sorted(SUCCESS_REBOOT_HRESULTS)]


def failing_attempts(
    patches: pd.DataFrame, latest: np.ndarray, executions: pd.DataFrame, recency: np.ndarray
) -> np.ndarray:
    """Boolean per patch row: the latest attempt of its patch failed, and still counts.

    A completed execution with no patches means the server was up to date when it ran
    (SPEC 4): it clears the failures of the executions that started before it.
    """
    failed = latest & (patches["outcome"] == "failed").to_numpy()
    if not failed.any():
        return failed
    up_to_date = (
        (executions["status"] == "completed").to_numpy()
        & (executions["patch_count"].fillna(-1) == 0).to_numpy()
        & ~executions["details_missing"].fillna(False).to_numpy(dtype=bool)
    )
    size = int(executions["_server"].max()) + 1
    cleared_until = np.full(size, -1, dtype=np.int64)
    np.maximum.at(cleared_until, executions["_server"].to_numpy()[up_to_date], recency[up_to_date])
    run = recency[patches["_exec"].to_numpy()]
    return failed & (run > cleared_until[patches["_server"].to_numpy()])


def reboot_pending(
    patches: pd.DataFrame,
    latest: np.ndarray,
    executions: pd.DataFrame,
    recency: np.ndarray,
    size: int,
) -> tuple[np.ndarray, list[str]]:
    """Per server: whether a latest attempt succeeded but needs a restart (a success-class
    reboot code only, SPEC 9) and no execution of the server completed after it; and the keys
    of those patches, joined with "; "."""
    hresult = patches["hresult"].astype(object).to_numpy()
    needs = latest & np.isin(hresult, _REBOOT_CODES) & (patches["outcome"] == "warning").to_numpy()
    servers = patches["_server"].to_numpy()
    run = recency[patches["_exec"].to_numpy()]
    restart_from = np.full(size, -1, dtype=np.int64)
    np.maximum.at(restart_from, servers[needs], run[needs])
    completed = (executions["status"] == "completed").to_numpy()
    last_completed = np.full(size, -1, dtype=np.int64)
    np.maximum.at(last_completed, executions["_server"].to_numpy()[completed], recency[completed])
    # The attempt's own execution may be the last completed one: only a later one restarted.
    pending = (restart_from >= 0) & (last_completed <= restart_from)
    waiting = needs & pending[servers]
    return pending, joined_keys(servers[waiting], patches["patch_key"].array[waiting], size)


def joined_keys(servers: np.ndarray, keys: pd.Categorical, size: int) -> list[str]:
    """Per server, the patch keys of its rows (``servers`` gives each key's server), sorted
    and joined with "; "."""
    found: list[list[str]] = [[] for _ in range(size)]
    # One step per (server, failing patch) pair: bounded by servers x patches, not by attempts.
    for server, key in zip(servers.tolist(), keys.tolist(), strict=True):
        found[server].append(key)
    return ["; ".join(sorted(names)) for names in found]
