"""Exceptions applied, and each server's status under the standard (SPEC 4, 4a).

The reasons against a server are its failed patches, a latest execution that failed, and its
overdue required patches. An exception in force at the reference date covers those of its
server (or ``*``) and patch (or ``*``; a failed latest execution only by ``*``), turning a
required patch Excepted. A non-compliant server whose every reason is covered is Compliant
(excepted); an overdue patch that is not makes a compliant server Non-compliant.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from reporter.reasons import counted, listed
from reporter.schema import (
    COMPLIANCE_STATUSES,
    COMPLIANT,
    COMPLIANT_EXCEPTED,
    DUE,
    EXCEPTED,
    EXCEPTION_SCHEMA,
    EXPIRED,
    FAILED,
    IN_FORCE,
    NON_COMPLIANT,
    OVERDUE,
    REBOOT_PENDING,
    REQUIRED_STATES,
    STALE,
    as_text,
    conform,
    empty_frame,
)
from reporter.standard.baseline import BaselineRow
from reporter.standard.evidence import key_parts
from reporter.standard.exceptions import ExceptionRow
from reporter.standard.patches import failure_names, patch_matches

MATCHES_SHOWN = 20  # matches written out per exception; the count says how many in all
OVERDUE_SHOWN = 5  # overdue patches named in a server's reason


@dataclass(frozen=True, slots=True)
class Item:
    """One reason against a server that an exception may cover."""

    server: int  # position in the servers frame
    label: str  # a patch key, a baseline patch, or "latest execution ... failed"
    names: frozenset[str]  # what an exception may call it (empty: only "*" covers it)
    required: int | None = None  # its row in the required frame, for a required patch


def reasons_against(
    servers: pd.DataFrame, required: pd.DataFrame, rows: Sequence[BaselineRow]
) -> list[Item]:
    """Every failed patch, failed latest execution, and failed, due or overdue required patch."""
    items = []
    position = {
        (alias, server.upper()): n
        for n, (alias, server) in enumerate(
            zip(
                as_text(servers["account_alias"]).tolist(),
                as_text(servers["server_id"]).tolist(),
                strict=True,
            )
        )
    }
    for n, (status, keys, latest, latest_status) in enumerate(
        zip(
            as_text(servers["compliance"]).tolist(),
            servers["failed_kbs"].tolist(),
            servers["latest_execution_id"].astype(object).tolist(),
            servers["latest_execution_status"].astype(object).tolist(),
            strict=True,
        )
    ):
        for key in keys.split("; ") if keys else []:
            items.append(Item(n, key, frozenset(failure_names(key, *key_parts(key)))))
        if status == NON_COMPLIANT and latest_status in ("failed", "unknown"):
            what = "failed" if latest_status == "failed" else "has an undocumented status"
            items.append(Item(n, f"latest execution {latest} {what}", frozenset()))
    states = as_text(required["state"]).tolist()
    owners = zip(
        required["account_alias"].tolist(), required["server_id"].str.upper().tolist(), strict=True
    )
    for j, (owner, state, row) in enumerate(zip(owners, states, rows, strict=True)):
        if state in (FAILED, DUE, OVERDUE):
            names = {row.patch.casefold()}
            for alternative in row.alternatives:
                names |= alternative.names()
            items.append(Item(position[owner], row.patch, frozenset(names), j))
    return items


@dataclass
class ExceptionCover:
    """Which reasons against the servers the exceptions cover, and each exception's standing."""

    covered: dict[int, ExceptionRow]  # item index -> the exception in force that covers it
    frame: pd.DataFrame  # EXCEPTION_SCHEMA


def cover(
    items: Sequence[Item],
    servers: pd.DataFrame,
    exceptions: Sequence[ExceptionRow],
    reference: datetime,
) -> ExceptionCover:
    """Match every exception against every reason; the first exception in force wins."""
    server_ids = as_text(servers["server_id"]).tolist()
    covered: dict[int, ExceptionRow] = {}
    records = []
    for exception in exceptions:
        patch = exception.matched_patch
        matched = [
            index
            for index, item in enumerate(items)
            if exception.covers_server(server_ids[item.server]) and patch_matches(patch, item.names)
        ]
        in_force = exception.in_force(reference)
        if in_force:
            for index in matched:
                covered.setdefault(index, exception)
        shown = list(
            dict.fromkeys(f"{server_ids[items[i].server]}: {items[i].label}" for i in matched)
        )
        text = "; ".join(shown[:MATCHES_SHOWN])
        if len(shown) > MATCHES_SHOWN:
            text += f"; and {len(shown) - MATCHES_SHOWN} more"
        records.append(
            {
                "line": exception.line,
                "server_id": exception.server_id,
                "patch": exception.patch,
                "reason": exception.reason,
                "approved_by": exception.approved_by,
                "expires": pd.Timestamp(exception.expires, tz="UTC"),
                "state": (IN_FORCE if shown else STALE) if in_force else EXPIRED,
                "matched": len(shown),
                "matches": text,
            }
        )
    if not records:
        return ExceptionCover(covered, empty_frame(EXCEPTION_SCHEMA))
    frame = conform(pd.DataFrame(records, columns=EXCEPTION_SCHEMA.names), EXCEPTION_SCHEMA)
    return ExceptionCover(covered, frame)


def overdue_text(row: pd.Series) -> str:
    """``overdue KB5031361 (Critical, released 2026-10-14, 48 days)``."""
    severity = row["severity"] or "no severity"
    return f"overdue {row['patch']} ({severity}, released {row['released']:%Y-%m-%d}, " + (
        f"{row['age_days']} days)"
    )


def judged_statuses(
    servers: pd.DataFrame,
    required: pd.DataFrame,
    rows: Sequence[BaselineRow],
    items: Sequence[Item],
    cover: ExceptionCover,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The servers frame with the standard's statuses and reasons, and the required frame with
    the covered patches Excepted.

    Servers without data or in progress keep their status: the standard judges the others.
    """
    required = required.copy()
    state = required["state"].astype(object).to_numpy(copy=True)
    exception_text = required["exception"].astype(object).to_numpy(copy=True)
    # A failed patch whose required row is excepted is excepted with it.
    by_key: dict[tuple[int, str], ExceptionRow] = {}
    for index, covering in cover.covered.items():
        item = items[index]
        if item.required is not None:
            state[item.required] = EXCEPTED
            exception_text[item.required] = covering.label
            for alternative in rows[item.required].alternatives:
                for key in alternative.keys:
                    by_key.setdefault((item.server, key), covering)
    required["state"] = pd.Categorical(state.tolist(), categories=REQUIRED_STATES)
    required["exception"] = exception_text

    by_server: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        by_server.setdefault(item.server, []).append(index)
    statuses = servers["compliance"].astype(object).tolist()
    reasons = servers["reason"].tolist()
    for server, indexes in by_server.items():
        before = statuses[server]
        if before not in (COMPLIANT, REBOOT_PENDING, NON_COMPLIANT):
            continue
        against: list[Item] = []
        excused: list[str] = []
        failure_excused = False
        overdue, due = [], []
        for index in indexes:
            item = items[index]
            exception = cover.covered.get(index)
            if exception is None and item.required is None:
                exception = by_key.get((server, item.label))
            if item.required is not None:
                row_state = state[item.required]
                if row_state == OVERDUE:
                    against.append(item)
                    overdue.append(overdue_text(required.iloc[item.required]))
                elif row_state == DUE:
                    when = required["deadline"].iloc[item.required]
                    due.append(f"{item.label} by {when:%Y-%m-%d}")
                elif row_state == EXCEPTED:
                    excused.append(f"{item.label} ({exception_text[item.required]})")
            elif exception is not None:
                failure_excused = True
                excused.append(f"{item.label} ({exception.label})")
            else:
                against.append(item)
        if against:
            status = NON_COMPLIANT
        elif excused and before in (NON_COMPLIANT, COMPLIANT):
            status = COMPLIANT_EXCEPTED
        else:
            status = before
        parts = []
        if status == COMPLIANT_EXCEPTED:
            parts.append("every reason against it is excepted: " + "; ".join(excused))
        else:
            if failure_excused:
                parts.extend(_failure_parts([item for item in against if item.required is None]))
            elif before == NON_COMPLIANT or status != NON_COMPLIANT:
                parts.append(reasons[server])
            parts.extend(overdue[:OVERDUE_SHOWN])
            if len(overdue) > OVERDUE_SHOWN:
                parts.append(f"and {len(overdue) - OVERDUE_SHOWN} more overdue")
            if excused:
                parts.append("excepted: " + listed(excused, limit=3))
            if due and status != NON_COMPLIANT:  # said only where it is the news
                parts.append("due: " + listed(due, limit=3))
        statuses[server] = status
        reasons[server] = "; ".join(part for part in parts if part)
    servers = servers.copy()
    servers["compliance"] = pd.Categorical(statuses, categories=COMPLIANCE_STATUSES)
    servers["reason"] = reasons
    return servers, required


def _failure_parts(against: Sequence[Item]) -> list[str]:
    """The failures and failed executions still against a server, as its reason says them."""
    failed = [item.label for item in against if item.names]
    executions = [item.label for item in against if not item.names]
    parts = [f"{counted(len(failed), 'patch')} failed: {listed(failed)}"] if failed else []
    return parts + executions
