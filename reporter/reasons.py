"""Why each server has its status: one short line per server (SPEC 4), and the phrases that
the standard's reasons (:mod:`reporter.standard`) are written with."""

from collections import Counter
from collections.abc import Sequence

import pandas as pd

from reporter.problems import Problem
from reporter.schema import IN_PROGRESS, NO_DATA, NON_COMPLIANT, REBOOT_PENDING

DETAILS_NOT_RETURNED = "patch details not returned"


def counted(number: int, noun: str) -> str:
    """``1 patch``, ``2 patches``.

    >>> counted(1, "patch"), counted(3, "warning")
    ('1 patch', '3 warnings')
    """
    plural = noun + ("es" if noun.endswith(("ch", "sh", "s")) else "s")
    return f"{number} {noun if number == 1 else plural}"


def listed(keys: Sequence[str], limit: int = 5) -> str:
    """The first few keys, then how many more.

    >>> listed(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def server_reasons(
    frame: pd.DataFrame,
    no_details: Sequence[bool],
    patch_counts: Sequence[object],
    restart_keys: Sequence[str],
    cleared_keys: Sequence[str],
    problems: Sequence[Problem],
) -> list[str]:
    """One short line per row of a servers frame saying why it has its status.

    Args:
        frame: the servers frame, in server-table order (``_server``).
        no_details: per server, its latest execution gave a patch count instead of the list.
        patch_counts: per server, its latest execution's patch count (None: no execution).
        restart_keys: per server, the patches waiting for a restart, joined with "; ".
        cleared_keys: per server, failed patches a later up-to-date run cleared ("; ").
        problems: every problem, for the servers without data.
    """
    kinds: dict[tuple[str, str], Counter] = {}
    for problem in problems:
        if problem.server_id:
            key = ((problem.account_alias or "").upper(), problem.server_id.upper())
            kinds.setdefault(key, Counter())[problem.kind] += 1
    reasons = []
    rows = zip(
        frame["compliance"].tolist(),
        frame["account_alias"].tolist(),
        frame["server_id"].tolist(),
        frame["failed_kbs"].tolist(),
        frame["latest_execution_id"].tolist(),
        frame["latest_execution_status"].tolist(),
        frame["patches_attempted"].tolist(),
        frame["warnings"].tolist(),
        list(no_details),
        list(patch_counts),
        list(restart_keys),
        list(cleared_keys),
        strict=True,
    )
    for row in rows:
        status, alias, server, failed_kbs, latest, latest_status, attempted = row[:7]
        warnings, bare, count, restart, cleared = row[7:]
        failed = failed_kbs.split("; ") if failed_kbs else []  # one step per server, not patch
        # A latest execution that gave only a count is judged by its status (SPEC 4).
        untold = f"latest execution {latest}: {DETAILS_NOT_RETURNED} ({count} counted)"
        if status == NO_DATA:
            found = kinds.get((alias, str(server).upper()))
            detail = (
                ", ".join(f"{kind} ({n})" for kind, n in sorted(found.items())) if found else ""
            )
            reasons.append("no execution in the figures" + (f": {detail}" if detail else ""))
            continue
        if status == IN_PROGRESS:
            text = f"execution {latest} is {latest_status}"
            if failed:
                text += f"; {counted(len(failed), 'patch')} failed so far: {listed(failed)}"
            reasons.append(text)
            continue
        parts = []
        if status == NON_COMPLIANT:
            if failed:
                parts.append(f"{counted(len(failed), 'patch')} failed: {listed(failed)}")
            if latest_status == "failed":
                parts.append(f"latest execution {latest} failed")
            elif latest_status == "unknown":
                parts.append(f"latest execution {latest} has a status the API does not document")
        elif status == REBOOT_PENDING:
            waiting = restart.split("; ")
            parts.append(
                f"restart pending: {listed(waiting)} installed and asked for a restart, and no "
                "execution completed since"
            )
        elif attempted == 0 and bare:
            parts.append(
                f"{DETAILS_NOT_RETURNED}: execution {latest} {latest_status} with "
                f"{count} counted patches; judged by its status"
            )
            bare = False
        elif attempted == 0:
            parts.append("up to date: no patches were needed")
        elif cleared:
            parts.append(
                "up to date: a later run needed no patches, which clears the earlier failures of "
                + listed(cleared.split("; "))
            )
        else:
            text = "latest attempt of every patch succeeded"
            if warnings:
                text += f"; {counted(int(warnings), 'warning')}"
            parts.append(text)
        if bare:
            parts.append(untold)
        reasons.append("; ".join(parts))
    return reasons
