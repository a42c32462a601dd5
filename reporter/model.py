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
    PROBLEM_KIND_SCHEMA,
    PROBLEM_SCHEMA,
    SERVER_SCHEMA,
    FrameSchema,
    empty_frame,
    validate,
)

__all__ = [
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


def validate_model(model: ReportModel) -> None:
    """Check every frame of ``model`` against its schema (attributes as the model lists them).

    Raises:
        reporter.schema.SchemaError: for the first frame that does not match.
    """
    for name, schema in FRAME_SCHEMAS.items():
        validate(getattr(model, name), schema, model.attribute_columns)
