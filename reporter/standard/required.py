"""Each required patch on each server it applies to (SPEC 4a, 9): Installed, Failed, Due or
Overdue, judged at the reference date on every attempt known (:mod:`.evidence`).

- A row applies to a server when every ``applies_to`` term matches the server's inventory
  attribute (a glob, any case); without terms, KB rows apply to Windows servers and package
  rows to Linux servers (the ``os`` attribute, else the patches the server has attempted).
- The latest attempt of each alternative decides: a success followed by a failure is Failed.
  Any alternative installed satisfies the row.
- Missing: Due while ``released + sla_days[severity]`` is after the reference date, then
  Overdue. A failure seen only before the period, past the deadline, is Overdue too.

Only servers with data in the figures are judged: a server without data is No data whatever
its patches.
"""

import fnmatch
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from reporter.csvinput import header_key
from reporter.records import Period
from reporter.schema import (
    DUE,
    FAILED,
    INSTALLED,
    NO_DATA,
    OVERDUE,
    REQUIRED_SCHEMA,
    as_text,
    conform,
    empty_frame,
)
from reporter.standard.baseline import BaselineRow
from reporter.standard.patches import Alternative

OS_ATTRIBUTES = ("os", "ostype", "operatingsystem", "platform")
LINUX_WORDS = (
    "linux",
    "rhel",
    "red hat",
    "redhat",
    "centos",
    "ubuntu",
    "debian",
    "suse",
    "sles",
    "oracle",
    "rocky",
    "alma",
    "fedora",
    "amazon",
)
IN_THE_FIGURES = "this period"


def reference_date(period: Period | None, generated_at: datetime) -> datetime:
    """When deadlines and exceptions are judged (SPEC 9): the end of the period, else the run's
    moment, so that a re-render gives the same answer later."""
    return period.end if period is not None else generated_at


def deadline(row: BaselineRow, sla_days: Mapping[str, int]) -> datetime:
    """A row's deadline: its release (midnight UTC) plus the SLA days of its severity."""
    return row.released_at + timedelta(days=sla_days[row.severity])


@dataclass(frozen=True, slots=True)
class Attempt:
    """One known try of a patch on a server (a row of an attempts frame)."""

    key: str
    kb: str | None
    name: str | None
    arch: str | None
    version: str | None
    outcome: str
    at: pd.Timestamp  # NaT (not a Timestamp) when the API did not say
    source: str
    where: str | None
    title: str | None

    @property
    def succeeded(self) -> bool:
        """Whether it installed the patch (a warning is a success too)."""
        return self.outcome != "failed"

    def described(self) -> str:
        """``KB5031361 succeeded 2026-10-18 (this period, VA1-123456)``."""
        if self.name and self.version:
            what = f"{self.name}-{self.version}.{self.arch}" if self.arch else self.name
        else:
            what = self.key
        known = isinstance(self.at, pd.Timestamp)  # NaT, when the API did not say, is not one
        when = f"{self.at:%Y-%m-%d}" if known else "an unknown time"
        verb = "succeeded" if self.succeeded else "failed"
        where = f", {self.where}" if self.where else ""
        return f"{what} {verb} {when} ({self.source}{where})"


def attempts_by_server(attempts: pd.DataFrame) -> dict[str, dict[str, list[Attempt]]]:
    """SERVER (upper case) -> patch key -> its attempts, oldest first."""
    found: dict[str, dict[str, list[Attempt]]] = {}
    columns = ["key", "kb", "name", "arch", "version", "outcome", "at", "source", "where", "title"]
    for server, *values in zip(
        attempts["server"].tolist(), *(attempts[c].tolist() for c in columns), strict=True
    ):
        attempt = Attempt(*values)
        found.setdefault(server, {}).setdefault(attempt.key, []).append(attempt)
    return found


def server_os(attributes: Mapping[str, object], keys: Sequence[str]) -> str | None:
    """ "windows", "linux" or None for a server: its OS attribute, else its patches' keys."""
    for name, value in attributes.items():
        if header_key(name) in OS_ATTRIBUTES and isinstance(value, str):
            text = value.casefold()
            if "windows" in text:
                return "windows"
            if any(word in text for word in LINUX_WORDS):
                return "linux"
    kbs = sum(1 for key in keys if key.upper().startswith("KB") and key[2:].isdigit())
    packages = sum(1 for key in keys if "." in key and not key.upper().startswith("KB"))
    if kbs or packages:
        return "windows" if kbs >= packages else "linux"
    return None


def applies(row: BaselineRow, attributes: Mapping[str, object], os_name: str | None) -> bool:
    """Whether ``row`` applies to a server with these attributes (header -> value)."""
    if not row.applies_to:
        return os_name == ("windows" if row.windows else "linux")
    by_key = {header_key(name): value for name, value in attributes.items()}
    for name, pattern in row.applies_to:
        value = by_key.get(header_key(name))
        if not isinstance(value, str) or not fnmatch.fnmatchcase(
            value.casefold(), pattern.casefold()
        ):
            return False
    return True


def latest_for(alternative: Alternative, known: Mapping[str, list[Attempt]]) -> Attempt | None:
    """The latest attempt that counts for ``alternative`` (a package below its minimum does
    not)."""
    found = None
    for key in alternative.keys:
        for attempt in known.get(key, ()):
            if not alternative.satisfied_by(attempt.version):
                continue
            if found is None or not (attempt.at < found.at):
                found = attempt
    return found


def judge_row(
    row: BaselineRow, known: Mapping[str, list[Attempt]], due_by: datetime, reference: datetime
) -> tuple[str, Attempt | None]:
    """A row's state on one server, and the attempt that decided it (None: none known)."""
    latest = [latest_for(alternative, known) for alternative in row.alternatives]
    tried = [attempt for attempt in latest if attempt is not None]
    installed = [attempt for attempt in tried if attempt.succeeded]
    if installed:
        return INSTALLED, max(installed, key=lambda attempt: attempt.at)
    passed = due_by <= reference  # Due only while the deadline is after the reference date
    if tried:
        failure = max(tried, key=lambda attempt: attempt.at)
        # A failure in the figures makes the server non-compliant already (SPEC 4); one
        # seen only earlier leaves the patch missing, judged by its deadline.
        return (FAILED if failure.source == IN_THE_FIGURES or not passed else OVERDUE), failure
    return (OVERDUE if passed else DUE), None


def server_attributes(servers: pd.DataFrame, attribute_columns: Sequence[str]) -> list[dict]:
    """Per server row, its inventory attributes by their inventory header."""
    names = {column: _inventory_header(column) for column in attribute_columns}
    values = {column: servers[column].astype(object).tolist() for column in attribute_columns}
    return [
        {names[column]: values[column][position] for column in attribute_columns}
        for position in range(len(servers))
    ]


def _inventory_header(column: str) -> str:
    """The inventory header of an attribute column (frames rename clashes "x (inventory)")."""
    suffix = " (inventory)"
    return column[: -len(suffix)] if column.endswith(suffix) else column


@dataclass(frozen=True)
class RequiredVerdicts:
    """The required frame before exceptions, and what else the judgement found."""

    frame: pd.DataFrame  # REQUIRED_SCHEMA, state never Excepted yet
    rows: list[BaselineRow]  # the baseline row of each frame row
    not_judged: int  # servers a row would apply to but that have no data in the figures
    unknown_os: int  # servers with data whose OS is unknown (rows without applies_to skip them)


def required_verdicts(
    servers: pd.DataFrame,
    attribute_columns: Sequence[str],
    rows: Sequence[BaselineRow],
    attempts: pd.DataFrame,
    sla_days: Mapping[str, int],
    reference: datetime,
    looked_back: Collection[str] = (),
) -> RequiredVerdicts:
    """Judge every baseline row on every server it applies to (with data in the figures).

    ``looked_back`` names the servers (upper case) whose earlier executions were searched.
    """
    known = attempts_by_server(attempts)
    records, judged_rows = [], []
    not_judged = unknown_os = 0
    attributes = server_attributes(servers, attribute_columns)
    deadlines = [deadline(row, sla_days) for row in rows]
    for position, (alias, server, status) in enumerate(
        zip(
            as_text(servers["account_alias"]).tolist(),
            as_text(servers["server_id"]).tolist(),
            as_text(servers["compliance"]).tolist(),
            strict=True,
        )
    ):
        mine = known.get(server.upper(), {})
        os_name = server_os(attributes[position], list(mine))
        # A patch released after the reference date is not required yet.
        applicable = [
            (row, due_by)
            for row, due_by in zip(rows, deadlines, strict=True)
            if row.released_at < reference and applies(row, attributes[position], os_name)
        ]
        if status == NO_DATA:
            not_judged += bool(applicable)
            continue
        if os_name is None and any(not row.applies_to for row in rows):
            unknown_os += 1
        for row, due_by in applicable:
            state, attempt = judge_row(row, mine, due_by, reference)
            if attempt is not None:
                detail = attempt.described()
            elif server.upper() in looked_back:
                detail = "no attempt found, in the history or looking back"
            else:
                detail = "no attempt found"
            records.append(
                {
                    "account_alias": alias,
                    "server_id": server,
                    "patch": row.patch,
                    "title": row.title,
                    "severity": row.severity,
                    "released": row.released_at,
                    "deadline": due_by,
                    "state": state,
                    "age_days": (reference - row.released_at).days,
                    "evidence": attempt.source if attempt is not None else "none",
                    "detail": detail,
                    "exception": "",
                }
            )
            judged_rows.append(row)
    if not records:
        frame = empty_frame(REQUIRED_SCHEMA)
    else:
        frame = conform(pd.DataFrame(records, columns=REQUIRED_SCHEMA.names), REQUIRED_SCHEMA)
    return RequiredVerdicts(frame, judged_rows, not_judged, unknown_os)


def missing_on(verdicts: RequiredVerdicts) -> dict[tuple[str, str], datetime]:
    """Each server with a required patch no attempt was found for, with the earliest release
    of those patches (nothing can have installed them before): (alias, server) -> release, in
    the servers frame's order. The servers to look back for (SPEC 9)."""
    frame = verdicts.frame
    missing: dict[tuple[str, str], datetime] = {}
    for alias, server, released, evidence in zip(
        frame["account_alias"].tolist(),
        frame["server_id"].tolist(),
        frame["released"].tolist(),
        as_text(frame["evidence"]).tolist(),
        strict=True,
    ):
        if evidence == "none":
            key = (alias, server)
            missing[key] = min(missing.get(key, released), released)
    return missing
