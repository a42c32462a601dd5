"""The report model: every figure a report shows, computed once.

The renderers (``reporter.render``) only present a :class:`ReportModel`; they never compute
figures of their own. The frames' columns, dtypes and meanings are :mod:`reporter.schema`,
the contract between the data stages (``frames``, ``compliance``) and the renderers; the
column lists below are its names, kept here for the renderers.
"""

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from reporter.schema import (
    BY_GROUP_SCHEMA,
    CHANGES_SCHEMA,
    COMPLETENESS_SCHEMA,
    COMPLIANCE_STATUSES,
    COMPLIANT,
    EXECUTION_SCHEMA,
    FAILED_SCHEMA,
    FAILURE_SUMMARY_SCHEMA,
    HRESULT_SCHEMA,
    IN_PROGRESS,
    NO_DATA,
    NON_COMPLIANT,
    PATCH_EXPORT_SCHEMA,
    PATCH_ROLLUP_SCHEMA,
    PATCH_SCHEMA,
    PERSISTENT_FAILURE_SCHEMA,
    PROBLEM_KIND_SCHEMA,
    PROBLEM_SCHEMA,
    SERVER_SCHEMA,
    TREND_SCHEMA,
    FrameSchema,
    empty_frame,
    validate,
)

__all__ = [
    "COMPLETENESS_COLUMNS",
    "COMPLIANCE_STATUSES",
    "COMPLIANT",
    "DEFAULT_SHOWN_ATTRIBUTES",
    "EXECUTION_COLUMNS",
    "FAILURE_SUMMARY_COLUMNS",
    "FRAME_SCHEMAS",
    "HRESULT_COLUMNS",
    "IN_PROGRESS",
    "NON_COMPLIANT",
    "NO_DATA",
    "PATCH_COLUMNS",
    "PATCH_EXTRA_COLUMNS",
    "PATCH_ROLLUP_COLUMNS",
    "PROBLEM_COLUMNS",
    "SERVER_COLUMNS",
    "AccountCoverage",
    "Coverage",
    "HistorySummary",
    "Kpis",
    "Presentation",
    "ReportMeta",
    "ReportModel",
    "SignOff",
    "validate_model",
]

# The patch-attempt columns, in the order of the CSV export (SPEC 5); the ``patches`` frame
# continues with PATCH_EXTRA_COLUMNS (rpm_name, ..., end_message), then the attributes.
PATCH_COLUMNS = PATCH_EXPORT_SCHEMA.names
PATCH_EXTRA_COLUMNS = PATCH_SCHEMA.names[len(PATCH_COLUMNS) :]
EXECUTION_COLUMNS = EXECUTION_SCHEMA.names
SERVER_COLUMNS = SERVER_SCHEMA.names
PATCH_ROLLUP_COLUMNS = PATCH_ROLLUP_SCHEMA.names
FAILURE_SUMMARY_COLUMNS = FAILURE_SUMMARY_SCHEMA.names
HRESULT_COLUMNS = HRESULT_SCHEMA.names
PROBLEM_COLUMNS = PROBLEM_SCHEMA.names
COMPLETENESS_COLUMNS = COMPLETENESS_SCHEMA.names

# ReportModel's frames and their schemas.
FRAME_SCHEMAS: dict[str, FrameSchema] = {
    "servers": SERVER_SCHEMA,
    "executions": EXECUTION_SCHEMA,
    "patches": PATCH_SCHEMA,
    "failed": FAILED_SCHEMA,
    "patch_rollup": PATCH_ROLLUP_SCHEMA,
    "problems": PROBLEM_SCHEMA,
    "problem_kinds": PROBLEM_KIND_SCHEMA,
    "by_group": BY_GROUP_SCHEMA,
    "failure_summary": FAILURE_SUMMARY_SCHEMA,
    "hresults": HRESULT_SCHEMA,
    "trend": TREND_SCHEMA,
    "changes": CHANGES_SCHEMA,
    "persistent_failures": PERSISTENT_FAILURE_SCHEMA,
    "completeness": COMPLETENESS_SCHEMA,
}


@dataclass(frozen=True)
class Kpis:
    """The executive-summary figures."""

    servers: int
    compliant: int
    non_compliant: int
    in_progress: int
    no_data: int
    executions: int
    patches_attempted: int
    succeeded: int
    warnings: int
    failed: int
    in_progress_patches: int
    problems: int

    @property
    def compliant_pct(self) -> float:
        """Compliant servers as a percentage of all servers in the inventory (0 when none)."""
        return 100.0 * self.compliant / self.servers if self.servers else 0.0


# Inventory attributes the HTML and PDF tables show as columns unless told which (--columns);
# Excel and CSV keep every attribute.
DEFAULT_SHOWN_ATTRIBUTES = 3


@dataclass(frozen=True)
class SignOff:
    """Who answers for the report (the cover's sign-off block).

    A name left None is a blank line to sign on.
    """

    prepared_by: str | None = None
    reviewed_by: str | None = None
    approved_by: str | None = None


@dataclass(frozen=True)
class Presentation:
    """How the user asked the figures to be shown: chosen, not computed.

    ``group_by`` and ``columns`` name inventory attributes (as the inventory heads them);
    ``columns`` None shows the first :data:`DEFAULT_SHOWN_ATTRIBUTES`. ``timezone`` is an IANA
    name for the times the HTML, PDF and Excel show.
    """

    timezone: str = "UTC"
    group_by: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    sign_off: SignOff = SignOff()
    classification: str | None = None


@dataclass(frozen=True)
class AccountCoverage:
    """How many of one account's active servers (in the check's scope) the inventory lists."""

    account_alias: str
    active: int  # active servers of the account in scope
    listed: int  # of those, the ones the inventory lists
    not_in_account: int  # inventory servers the account does not have, or has archived

    @property
    def not_listed(self) -> int:
        """Active servers in scope that the inventory does not list."""
        return self.active - self.listed

    @property
    def sentence(self) -> str:
        """``The inventory covers 57 of 60 active servers of account OSD (3 not listed)``."""
        text = (
            f"The inventory covers {self.listed:,} of {self.active:,} active servers of "
            f"account {self.account_alias} ({self.not_listed:,} not listed)"
        )
        if self.not_in_account:
            noun = "server it lists is" if self.not_in_account == 1 else "servers it lists are"
            text += f"; {self.not_in_account:,} {noun} not in the account"
        return text


@dataclass(frozen=True)
class Coverage:
    """The completeness check (SPEC 2a): whether it was performed, on what, and its figures.

    ``accounts`` holds the accounts checked; ``skipped`` the accounts that could not be, each
    with the reason (a login that may not read the servers API, say). The check was
    performed when at least one account was checked.
    """

    reason: str = ""  # why it was not performed at all ("" when it was)
    scope: str = "the whole account"
    accounts: tuple[AccountCoverage, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (account alias, reason)

    @property
    def performed(self) -> bool:
        """Whether at least one account was checked."""
        return bool(self.accounts)

    @property
    def active(self) -> int:
        """Active servers in scope, over the accounts checked."""
        return sum(account.active for account in self.accounts)

    @property
    def listed(self) -> int:
        """Of those, the ones the inventory lists."""
        return sum(account.listed for account in self.accounts)

    @property
    def not_listed(self) -> int:
        """Active servers in scope that the inventory does not list."""
        return self.active - self.listed

    @property
    def listed_pct(self) -> float:
        """Listed servers as a percentage of the active servers in scope (100 when none)."""
        return 100.0 * self.listed / self.active if self.active else 100.0

    @property
    def lines(self) -> list[str]:
        """What the executive summary says of it, one sentence per account."""
        if not self.performed:
            return [f"Inventory completeness: not performed: {self.reason}"]
        lines = [account.sentence + "." for account in self.accounts]
        lines += [
            f"Inventory completeness of account {alias}: not performed: {why}"
            for alias, why in self.skipped
        ]
        return lines


@dataclass(frozen=True)
class ReportMeta:
    """The title block: what the report covers and where its data came from."""

    title: str
    label: str  # the period ("2026-10") or the run's date ("2026-11-26"): names the files
    period: str | None  # "2026-10" with --period, else None
    accounts: list[str]
    generated_at: datetime  # UTC
    tool_version: str
    data_source: str  # the API URL, "evidence archive DIR", or "built-in simulator"
    input_name: str
    input_sha256: str
    manifest_sha256: str | None
    span_start: datetime | None  # earliest and latest execution start in the figures
    span_end: datetime | None
    scope: str = "every execution fetched"  # which executions were counted, in words
    timezone: str = "UTC"  # IANA name: the zone times are shown in (CSV and evidence stay UTC)
    sign_off: SignOff = SignOff()
    classification: str | None = None  # a label such as "Confidential", on every page

    @property
    def report_id(self) -> str:
        """The short ID every page and file of this report carries (SPEC 5): the first 12 hex
        digits of the evidence manifest's SHA-256, else of the input's."""
        return (self.manifest_sha256 or self.input_sha256)[:12]


@dataclass(frozen=True)
class HistorySummary:
    """This period against the previous recorded one (SPEC 5a); all zero without one.

    ``note`` says in one line why there is nothing to compare with, when there is not.
    """

    note: str = "No history was consulted for this report."
    previous_label: str | None = None
    previous_pct: float | None = None  # compliance % of the previous period
    points: float | None = None  # compliance % now minus then
    fixed: int = 0  # non-compliant then, counted as compliant now
    newly_non_compliant: int = 0  # non-compliant now, another status then
    changed: int = 0  # servers in both periods whose status changed (the two above included)
    new_servers: int = 0  # in this period only
    gone_servers: int = 0  # in the previous period only
    persistent: int = 0  # (server, patch) pairs failing in two or more consecutive periods

    @property
    def compared(self) -> bool:
        """Whether there was an earlier period to compare with."""
        return self.previous_label is not None


@dataclass
class ReportModel:
    """Everything a report shows. Each frame follows its schema in :data:`FRAME_SCHEMAS`,
    then (where the schema allows them) the inventory attribute columns."""

    meta: ReportMeta
    kpis: Kpis
    servers: pd.DataFrame  # one row per inventory server, worst status first
    executions: pd.DataFrame  # executions in the figures
    patches: pd.DataFrame  # one row per patch attempt
    failed: pd.DataFrame  # rows of ``patches`` whose outcome is "failed", with still_failing
    patch_rollup: pd.DataFrame  # sorted by servers_failed desc, then key
    problems: pd.DataFrame  # grouped by kind, most serious first (reporter.problems)
    attribute_columns: list[str] = field(default_factory=list)
    shown_attributes: list[str] = field(default_factory=list)  # as columns in HTML and PDF
    problem_kinds: pd.DataFrame = field(default_factory=lambda: empty_frame(PROBLEM_KIND_SCHEMA))
    # problems per kind, most serious first: only the kinds present
    by_group: pd.DataFrame = field(default_factory=lambda: empty_frame(BY_GROUP_SCHEMA))
    # compliance per value of each --group-by attribute, in the order asked
    # Chart data, computed once for every renderer:
    results_by_classification: pd.DataFrame = field(default_factory=pd.DataFrame)
    # index: classification; columns: succeeded, warning, failed, in progress (counts)
    failures_by_kb: pd.Series = field(default_factory=lambda: pd.Series(dtype="Int64"))
    # patch_key -> servers failing it, top entries first
    failures_by_server: pd.Series = field(default_factory=lambda: pd.Series(dtype="Int64"))
    # server_id -> failed patches, top entries first
    failure_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    # failed attempts per (patch, result, HRESULT), most servers first
    hresults: pd.DataFrame = field(default_factory=pd.DataFrame)
    # every HRESULT among the attempts, with name, meaning and count
    # History (SPEC 5a), from the history store and this report's figures:
    history: HistorySummary = field(default_factory=HistorySummary)
    trend: pd.DataFrame = field(default_factory=lambda: empty_frame(TREND_SCHEMA))
    # the last recorded periods up to this one, oldest first
    changes: pd.DataFrame = field(default_factory=lambda: empty_frame(CHANGES_SCHEMA))
    # servers whose status changed since the previous period, new or gone
    persistent_failures: pd.DataFrame = field(
        default_factory=lambda: empty_frame(PERSISTENT_FAILURE_SCHEMA)
    )
    # (server, patch) whose latest attempt failed in this and the previous period(s)
    completeness: pd.DataFrame = field(default_factory=lambda: empty_frame(COMPLETENESS_SCHEMA))
    # servers missing from the inventory or from the account (SPEC 2a)
    coverage: Coverage = field(default_factory=lambda: Coverage("the check was not run"))


def validate_model(model: ReportModel) -> None:
    """Check every frame of ``model`` against its schema (attributes as the model lists them).

    Raises:
        reporter.schema.SchemaError: for the first frame that does not match.
    """
    for name, schema in FRAME_SCHEMAS.items():
        validate(getattr(model, name), schema, model.attribute_columns)
