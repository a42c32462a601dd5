"""The report model: every figure a report shows, computed once.

The renderers (``reporter.render``) only present a :class:`ReportModel`; they never compute
figures of their own. The column lists below are the contract between the data stages
(``frames``, ``compliance``) and the renderers.
"""

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

# The patch-attempt columns, in the order of the CSV export (SPEC 5). Inventory attributes
# follow them in the ``patches`` frame.
PATCH_COLUMNS = [
    "account_alias",
    "server_id",
    "execution_id",
    "execution_status",
    "execution_start",
    "execution_end",
    "patch_seq",
    "title",
    "kb",
    "kbs",
    "classification",
    "result_code",
    "result",
    "result_meaning",
    "hresult",
    "hresult_name",
    "hresult_meaning",
    "reboot_required",
    "patch_status",
    "patch_start",
    "patch_end",
    "duration_s",
]

# Extra per-attempt columns the reports use (after PATCH_COLUMNS, before the attributes):
#   outcome: "succeeded" | "warning" | "failed" | "in progress" (the attempt judged by SPEC 4)
#   patch_key: what "the same patch" means for compliance: the primary KB; for a Linux package
#              its name and architecture ("openssl-libs.x86_64"), so a later release that
#              installs clears an earlier one that failed; else the title
#   rpm_name, rpm_version, rpm_release, rpm_arch: for Linux packages, else missing
#   end_message: the raw patch_end_message
PATCH_EXTRA_COLUMNS = [
    "outcome",
    "patch_key",
    "rpm_name",
    "rpm_version",
    "rpm_release",
    "rpm_arch",
    "end_message",
]

EXECUTION_COLUMNS = [
    "account_alias",
    "server_id",
    "execution_id",
    "status",  # pending | running | completed | failed | unknown
    "status_raw",
    "start",  # datetime64[ns, UTC], NaT when unknown
    "end",
    "duration_s",  # Int64: from the times when both are known, else the reported duration
    "duration_reported",  # the API's duration string, as sent
    "duration_mismatch",  # boolean: the reported duration contradicts the times
    "patch_count",  # Int64: patches listed, or the number the API gave instead of a list
    "details_missing",  # boolean: the API gave a count instead of the patch list
    "succeeded",  # Int64 counts of attempts by outcome
    "warnings",
    "failed",
    "in_progress",
    "in_period",  # boolean: counted in the figures (always true without --period)
    "issues",  # string: what was wrong with the payload ("" when nothing)
]

SERVER_COLUMNS = [
    "account_alias",
    "server_id",
    "compliance",  # COMPLIANT | NON_COMPLIANT | IN_PROGRESS | NO_DATA
    "reason",  # one line: why this status (e.g. "2 patches failed: KB5031361, KB5032189")
    "executions",  # Int64
    "patches_attempted",
    "succeeded",
    "warnings",
    "failed",
    "failed_kbs",  # string: the patch keys whose latest attempt failed, joined with "; "
    "latest_execution_id",
    "latest_execution_start",
    "latest_execution_status",
    "last_success",  # datetime of the latest succeeded attempt, NaT if none
]

KB_ROLLUP_COLUMNS = [
    "patch_key",
    "kb",
    "title",
    "classification",
    "servers_attempted",  # Int64, servers whose latest attempt of this patch is in scope
    "servers_succeeded",  # latest attempt succeeded (warnings included)
    "servers_failed",  # latest attempt failed
    "attempts",  # all attempts, retries included
]

FAILURE_SUMMARY_COLUMNS = [
    "patch_key",
    "result",
    "hresult",
    "title",
    "kb",
    "result_code",
    "result_meaning",
    "hresult_name",
    "hresult_meaning",
    "servers",  # distinct (account, server) with such an attempt
    "attempts",
]

HRESULT_COLUMNS = ["hresult", "hresult_name", "hresult_meaning", "attempts"]

PROBLEM_COLUMNS = ["line", "account_alias", "server_id", "execution_id", "kind", "reason"]

COMPLIANT = "Compliant"
NON_COMPLIANT = "Non-compliant"
IN_PROGRESS = "In progress"
NO_DATA = "No data"
COMPLIANCE_STATUSES = [COMPLIANT, NON_COMPLIANT, IN_PROGRESS, NO_DATA]


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


@dataclass
class ReportModel:
    """Everything a report shows. Frames use the column lists above, then inventory attributes."""

    meta: ReportMeta
    kpis: Kpis
    servers: pd.DataFrame  # SERVER_COLUMNS + attributes, one row per inventory server
    executions: pd.DataFrame  # EXECUTION_COLUMNS + attributes, executions in the figures
    patches: pd.DataFrame  # PATCH_COLUMNS + PATCH_EXTRA_COLUMNS + attributes
    failed: pd.DataFrame  # rows of ``patches`` whose outcome is "failed"
    kb_rollup: pd.DataFrame  # KB_ROLLUP_COLUMNS, sorted by servers_failed desc, then key
    problems: pd.DataFrame  # PROBLEM_COLUMNS
    attribute_columns: list[str] = field(default_factory=list)
    # Chart data, computed once for every renderer:
    results_by_classification: pd.DataFrame = field(default_factory=pd.DataFrame)
    # index: classification; columns: succeeded, warning, failed, in progress (counts)
    failures_by_kb: pd.Series = field(default_factory=lambda: pd.Series(dtype="Int64"))
    # patch_key -> servers failing it, top entries first
    failures_by_server: pd.Series = field(default_factory=lambda: pd.Series(dtype="Int64"))
    # server_id -> failed patches, top entries first
    failure_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    # FAILURE_SUMMARY_COLUMNS: failed attempts per (patch, result, HRESULT), most servers first
    hresults: pd.DataFrame = field(default_factory=pd.DataFrame)
    # HRESULT_COLUMNS: every HRESULT among the attempts, with name, meaning and count
