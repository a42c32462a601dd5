"""The columns of the report model's frames, their types and meanings: one executable schema.

Every frame of :class:`reporter.model.ReportModel` has a :class:`FrameSchema` here: its
columns in order, each with a dtype and a one-line meaning. :func:`validate` checks a frame
against it (names, order, dtypes, fixed categories), :func:`conform` gives a hand-built frame
the schema's dtypes, and :func:`empty_frame` makes a frame with no rows. Frames marked
``attributes`` are followed by the inventory's attribute columns (categorical).

Dtypes are pandas dtype names, plus ``text``: Python strings (None when missing) in an
``object`` column, which pandas 3 may infer as its default ``str`` dtype; both are accepted.

>>> validate(empty_frame(PROBLEM_SCHEMA), PROBLEM_SCHEMA)
>>> PROBLEM_SCHEMA.names
['line', 'account_alias', 'server_id', 'execution_id', 'kind', 'reason']
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from reporter.derive import CLASSIFICATIONS, OUTCOMES, RESULTS
from reporter.parse import STATUSES

# Final: each is its literal value to a type checker, as pandas' dtype names are.
CATEGORY: Final = "category"
TEXT: Final = "text"
STRING: Final = "string"  # pandas' nullable string dtype: missing is pd.NA
INT: Final = "Int64"
SMALL_INT: Final = "Int8"
BOOLEAN: Final = "boolean"
TIME: Final = "datetime64[ns, UTC]"
FLOAT: Final = "Float64"
DTYPES = (CATEGORY, TEXT, STRING, INT, SMALL_INT, BOOLEAN, TIME, FLOAT)

# A server's compliance status (SPEC 4): the categories of the servers frame's "compliance".
COMPLIANT = "Compliant"
NON_COMPLIANT = "Non-compliant"
IN_PROGRESS = "In progress"
NO_DATA = "No data"
REBOOT_PENDING = "Reboot pending"
COMPLIANT_EXCEPTED = "Compliant (excepted)"
COMPLIANCE_STATUSES = [
    COMPLIANT,
    NON_COMPLIANT,
    IN_PROGRESS,
    NO_DATA,
    REBOOT_PENDING,
    COMPLIANT_EXCEPTED,
]
# How Reboot pending counts in the compliance % (config ``reboot_pending``; SPEC 4).
REBOOT_POLICIES = ("compliant", "non-compliant")


def counted_as_compliant(reboot_pending_compliant: bool = True) -> tuple[str, ...]:
    """The statuses counted as compliant (SPEC 9): the one definition that the KPIs, the
    compliance %, the history store and the trend all use.

    Compliant (excepted) always counts; Reboot pending counts unless the policy says it is
    non-compliant.

    >>> counted_as_compliant(False)
    ('Compliant', 'Compliant (excepted)')
    """
    pending = (REBOOT_PENDING,) if reboot_pending_compliant else ()
    return (COMPLIANT, COMPLIANT_EXCEPTED, *pending)


# A required patch on one server (SPEC 4a): the categories of the required frame's "state".
INSTALLED = "Installed"
FAILED = "Failed"
DUE = "Due"
OVERDUE = "Overdue"
EXCEPTED = "Excepted"
REQUIRED_STATES = [INSTALLED, FAILED, DUE, OVERDUE, EXCEPTED]
# Where the answer for a required patch came from.
EVIDENCE_SOURCES = ["this period", "outside the period", "history", "look-back", "none"]
# An exception's standing at the reference date (SPEC 4a).
IN_FORCE = "in force"
EXPIRED = "expired"
STALE = "stale"
EXCEPTION_STATES = [IN_FORCE, EXPIRED, STALE]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a model frame: its name, dtype (one of :data:`DTYPES`) and meaning.

    ``categories``, for a categorical column with a fixed vocabulary, are its categories in
    order.
    """

    name: str
    dtype: str
    meaning: str
    categories: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FrameSchema:
    """The columns of one model frame, in order; ``attributes``: the inventory's attribute
    columns follow them."""

    name: str
    columns: tuple[ColumnSpec, ...]
    attributes: bool = False

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [column.name for column in self.columns]

    def extended(self, name: str, columns: Sequence[ColumnSpec]) -> "FrameSchema":
        """This schema's columns followed by ``columns``, under a new name."""
        return FrameSchema(name, (*self.columns, *columns), self.attributes)


class SchemaError(ValueError):
    """A frame does not have the columns or dtypes its schema says."""


def _spec(name: str, dtype: str, meaning: str, categories: Sequence[str] | None = None):
    return ColumnSpec(name, dtype, meaning, None if categories is None else tuple(categories))


_ALIAS = _spec("account_alias", CATEGORY, "the account alias, upper case")
_SERVER = _spec("server_id", CATEGORY, "the server ID as the inventory spells it")
_EXECUTION = _spec("execution_id", CATEGORY, "the execution ID, as requested")

# The columns of the CSV export, in its order (SPEC 5); the patches frame starts with them.
PATCH_EXPORT_SCHEMA = FrameSchema(
    "patch export",
    (
        _ALIAS,
        _SERVER,
        _EXECUTION,
        _spec("execution_status", CATEGORY, "the execution's normalised status", STATUSES),
        _spec("execution_start", TIME, "when the execution started (NaT: unknown)"),
        _spec("execution_end", TIME, "when the execution ended (NaT: unknown)"),
        _spec("patch_seq", INT, "the patch's 1-based position in the API's list"),
        _spec("title", CATEGORY, "patch_begin_message without the leading 'Installing'"),
        _spec("kb", CATEGORY, "the primary KB number, e.g. KB3135998"),
        _spec("kbs", CATEGORY, "every KB number of the title, joined with ';'"),
        _spec("classification", CATEGORY, "the kind of update, from its title", CLASSIFICATIONS),
        _spec("result_code", SMALL_INT, "the Windows Update result code (0-5), if any"),
        _spec("result", CATEGORY, "the result code's name, or Unknown", RESULTS),
        _spec("result_meaning", CATEGORY, "what the result code means"),
        _spec("hresult", CATEGORY, "the HRESULT written 0x%08X, if any"),
        _spec("hresult_name", CATEGORY, "the HRESULT's name, e.g. WU_E_ALL_UPDATES_FAILED"),
        _spec("hresult_meaning", CATEGORY, "what the HRESULT means"),
        _spec("reboot_required", BOOLEAN, "the HRESULT says a restart is needed"),
        _spec("patch_status", CATEGORY, "the patch's normalised status", STATUSES),
        _spec("patch_start", TIME, "when the patch started (NaT: unknown)"),
        _spec("patch_end", TIME, "when the patch ended (NaT: unknown)"),
        _spec("duration_s", INT, "seconds from patch_start to patch_end"),
        _spec("outcome", CATEGORY, "the attempt judged by SPEC 4", OUTCOMES),
        _spec(
            "patch_key",
            CATEGORY,
            "what 'the same patch' means for compliance: the primary KB, a Linux package's "
            "name.arch, else the title",
        ),
        _spec(
            "still_failing",
            BOOLEAN,
            "the attempt failed and is the latest of its patch on its server: it makes the "
            "server non-compliant",
        ),
    ),
    attributes=True,
)

PATCH_SCHEMA = PATCH_EXPORT_SCHEMA.extended(
    "patches",
    (
        _spec("rpm_name", CATEGORY, "a Linux package's name"),
        _spec("rpm_version", CATEGORY, "a Linux package's version"),
        _spec("rpm_release", CATEGORY, "a Linux package's release"),
        _spec("rpm_arch", CATEGORY, "a Linux package's architecture"),
        _spec("end_message", CATEGORY, "patch_end_message as sent"),
    ),
)

FAILED_SCHEMA = PATCH_SCHEMA.extended("failed", ())  # the rows whose outcome is "failed"

EXECUTION_SCHEMA = FrameSchema(
    "executions",
    (
        _ALIAS,
        _SERVER,
        _EXECUTION,
        _spec("status", CATEGORY, "the normalised status", STATUSES),
        _spec("status_raw", STRING, "the status as sent"),
        _spec("start", TIME, "when the execution started (NaT: unknown)"),
        _spec("end", TIME, "when the execution ended (NaT: unknown)"),
        _spec("duration_s", INT, "seconds: from the times when both are known, else reported"),
        _spec("duration_reported", STRING, "the API's duration, as sent"),
        _spec("duration_mismatch", BOOLEAN, "the reported duration contradicts the times"),
        _spec("patch_count", INT, "patches listed, or the count the API gave instead"),
        _spec("details_missing", BOOLEAN, "the API gave a count instead of the patch list"),
        _spec("succeeded", INT, "attempts that succeeded"),
        _spec("warnings", INT, "attempts that succeeded with a warning"),
        _spec("failed", INT, "attempts that failed"),
        _spec("in_progress", INT, "attempts still in progress"),
        _spec("in_period", BOOLEAN, "counted in the figures (always, without a period)"),
        _spec("issues", STRING, "what was wrong or odd in the payload ('' when nothing)"),
    ),
    attributes=True,
)

SERVER_SCHEMA = FrameSchema(
    "servers",
    (
        _ALIAS,
        _SERVER,
        _spec("compliance", CATEGORY, "the server's status (SPEC 4)", COMPLIANCE_STATUSES),
        _spec("reason", TEXT, "one line: why the server has this status"),
        _spec("executions", INT, "executions in the figures"),
        _spec("patches_attempted", INT, "patch attempts in the figures"),
        _spec("succeeded", INT, "attempts that succeeded"),
        _spec("warnings", INT, "attempts that succeeded with a warning"),
        _spec("failed", INT, "attempts that failed"),
        _spec("failed_kbs", TEXT, "patch keys whose latest attempt failed, joined with '; '"),
        _spec("latest_execution_id", CATEGORY, "the server's latest execution"),
        _spec("latest_execution_start", TIME, "when it started"),
        _spec("latest_execution_status", CATEGORY, "its normalised status", STATUSES),
        _spec("last_success", TIME, "when the latest successful attempt ended (NaT: none)"),
    ),
    attributes=True,
)

PATCH_ROLLUP_SCHEMA = FrameSchema(
    "patch roll-up",
    (
        _spec("patch_key", TEXT, "the patch (see the patches frame)"),
        _spec("kb", TEXT, "its primary KB number"),
        _spec("title", TEXT, "its title ('name.arch (any version)' for a Linux package)"),
        _spec("classification", TEXT, "its classification"),
        _spec("servers_attempted", INT, "servers whose latest attempt of it is in the figures"),
        # The next four add up to servers_attempted (SPEC 4), by the latest attempt's outcome.
        _spec("servers_succeeded", INT, "of those, latest attempt succeeded"),
        _spec("servers_warnings", INT, "of those, latest attempt succeeded with a warning"),
        _spec("servers_in_progress", INT, "of those, latest attempt still in progress"),
        _spec("servers_failed", INT, "of those, latest attempt failed"),
        _spec("attempts", INT, "every attempt, retries included"),
    ),
)

PROBLEM_KIND_SCHEMA = FrameSchema(
    "problem kinds",
    (
        _spec("kind", TEXT, "a kind of problem (reporter.problems.PROBLEM_KINDS)"),
        _spec("problems", INT, "problems of that kind"),
        _spec("meaning", TEXT, "what such a problem means for the figures"),
    ),
)

BY_GROUP_SCHEMA = FrameSchema(
    "compliance by group",
    (
        _spec("attribute", TEXT, "the inventory attribute grouped by (--group-by)"),
        _spec("group", TEXT, "one of its values ('(none)' for servers without one)"),
        _spec("servers", INT, "servers in the group"),
        *(
            _spec(status, INT, f"of those, servers whose status is {status}")
            for status in COMPLIANCE_STATUSES
        ),
        _spec("counted_compliant", INT, "of those, servers counted as compliant (SPEC 9)"),
        _spec("compliance_pct", FLOAT, "counted compliant, as a percentage of the group's servers"),
    ),
)

FAILURE_SUMMARY_SCHEMA = FrameSchema(
    "failure summary",
    (
        _spec("patch_key", CATEGORY, "the patch"),
        _spec("result", CATEGORY, "the attempts' result", RESULTS),
        _spec("hresult", CATEGORY, "their HRESULT, if any"),
        _spec("title", CATEGORY, "the patch's title"),
        _spec("kb", CATEGORY, "its primary KB number"),
        _spec("result_code", SMALL_INT, "the result code"),
        _spec("result_meaning", CATEGORY, "what the result code means"),
        _spec("hresult_name", CATEGORY, "the HRESULT's name"),
        _spec("hresult_meaning", CATEGORY, "what the HRESULT means"),
        _spec("servers", INT, "distinct (account, server) with such a failed attempt"),
        _spec("attempts", INT, "failed attempts"),
    ),
)

HRESULT_SCHEMA = FrameSchema(
    "HRESULTs",
    (
        _spec("hresult", TEXT, "an HRESULT seen among the attempts, 0x%08X"),
        _spec("hresult_name", TEXT, "its name ('' when not in the table)"),
        _spec("hresult_meaning", TEXT, "what it means"),
        _spec("attempts", INT, "attempts that gave it"),
    ),
)

# What the completeness check (SPEC 2a) found about a server: the categories of "finding".
NOT_IN_INVENTORY = "not in the inventory"
NOT_IN_ACCOUNT = "not in the account"
FINDINGS = [NOT_IN_INVENTORY, NOT_IN_ACCOUNT]

COMPLETENESS_SCHEMA = FrameSchema(
    "completeness",
    (
        _ALIAS,
        _spec("server_id", CATEGORY, "the server ID, upper case as the servers API writes it"),
        _spec("finding", CATEGORY, "what is missing where", FINDINGS),
        _spec("data_center", STRING, "the data center the account has it in (NA: none)"),
        _spec("group", STRING, "its group path, e.g. 'VA1 Hardware/Web/Prod' (NA: none)"),
        _spec("reason", STRING, "what the listings say of it: active, archived, no such server"),
        _spec("line", INT, "the inventory line that lists it (NA: not listed)"),
    ),
)

PROBLEM_SCHEMA = FrameSchema(
    "problems",
    (
        _spec("line", INT, "the input file's line (inventory, or the file the kind names), if any"),
        _spec("account_alias", STRING, "the account alias"),
        _spec("server_id", STRING, "the server ID"),
        _spec("execution_id", STRING, "the execution ID"),
        _spec("kind", STRING, "the kind of problem, e.g. 'bad payload' (most serious first)"),
        _spec("reason", STRING, "what went wrong, in one line"),
    ),
)


OUTSIDE_PERIOD_SCHEMA = FrameSchema(
    "executions outside the period",
    (
        _spec("line", INT, "the inventory line that listed it"),
        _spec("account_alias", TEXT, "the account alias"),
        _spec("server_id", TEXT, "the server ID"),
        _spec("execution_id", TEXT, "the execution ID"),
        _spec("status", CATEGORY, "its normalised status", STATUSES),
        _spec("start", TIME, "when it started (NaT: unknown)"),
        _spec("reason", TEXT, "why it is not in the figures"),
    ),
)

# A standard (SPEC 4a): each required patch on each server it applies to, the same per patch,
# and each exception with what it matched.
REQUIRED_SCHEMA = FrameSchema(
    "required",
    (
        _spec("account_alias", TEXT, "the account alias"),
        _spec("server_id", TEXT, "the server ID"),
        _spec("patch", TEXT, "the baseline's patch, as written (alternatives joined with '|')"),
        _spec("title", TEXT, "the baseline's title"),
        _spec("severity", TEXT, "Critical, Important, Moderate, Low, or '' for none"),
        _spec("released", TIME, "the release date (midnight UTC)"),
        _spec("deadline", TIME, "released + the SLA days of its severity"),
        _spec("state", CATEGORY, "Installed, Failed, Due, Overdue or Excepted", REQUIRED_STATES),
        _spec("age_days", INT, "whole days from the release to the reference date"),
        _spec("evidence", CATEGORY, "where the answer came from", EVIDENCE_SOURCES),
        _spec("detail", TEXT, "the attempt that decided it: patch, version, when"),
        _spec("exception", TEXT, "the exception that covers it (line, approver, expiry)"),
    ),
)

REQUIRED_ROLLUP_SCHEMA = FrameSchema(
    "required roll-up",
    (
        _spec("line", INT, "the baseline line"),
        _spec("patch", TEXT, "the baseline's patch, as written"),
        _spec("title", TEXT, "the baseline's title"),
        _spec("classification", TEXT, "the baseline's classification"),
        _spec("severity", TEXT, "Critical, Important, Moderate, Low, or '' for none"),
        _spec("released", TIME, "the release date (midnight UTC)"),
        _spec("deadline", TIME, "released + the SLA days of its severity"),
        _spec("servers", INT, "servers it applies to (with data in the figures)"),
        _spec("installed", INT, "of those, installed"),
        _spec("failed", INT, "latest attempt failed"),
        _spec("due", INT, "missing, deadline not passed"),
        _spec("overdue", INT, "missing past the deadline"),
        _spec("excepted", INT, "failed or missing, covered by an exception in force"),
    ),
)

EXCEPTION_SCHEMA = FrameSchema(
    "exceptions",
    (
        _spec("line", INT, "the exceptions file's line"),
        _spec("server_id", TEXT, "the server it covers, or '*' for any"),
        _spec("patch", TEXT, "the patch it covers, or '*' for any"),
        _spec("reason", TEXT, "why the exception was granted"),
        _spec("approved_by", TEXT, "who approved it"),
        _spec("expires", TIME, "the last day it is in force (midnight UTC of that day)"),
        _spec(
            "state",
            CATEGORY,
            "in force, expired or stale (in force, matched nothing)",
            EXCEPTION_STATES,
        ),
        _spec("matched", INT, "failures, missing or overdue patches it covers (or would)"),
        _spec("matches", TEXT, "what it covers (or would cover), 'server: patch' joined with '; '"),
    ),
)


# History (SPEC 5a): the trend of the recorded periods, and what changed since the previous one.
# Statuses are text here: earlier periods may hold statuses this version no longer gives.
TREND_SCHEMA = FrameSchema(
    "trend",
    (
        _spec("label", TEXT, "the period's label (its month, or the run's date)"),
        _spec("period", TEXT, "the month it covers (YYYY-MM), if it was limited to one"),
        _spec("generated_at", TIME, "when its report was generated"),
        _spec("servers", INT, "servers in scope"),
        *(
            _spec(status, INT, f"servers whose status was {status}")
            for status in COMPLIANCE_STATUSES
        ),
        _spec("counted_compliant", INT, "servers counted as compliant (SPEC 9)"),
        _spec("compliance_pct", FLOAT, "counted compliant, as a percentage of servers in scope"),
        _spec("change_points", FLOAT, "compliance % change against the row before, in points"),
    ),
)

CHANGES_SCHEMA = FrameSchema(
    "changes",
    (
        _spec("account_alias", TEXT, "the account alias"),
        _spec("server_id", TEXT, "the server ID"),
        _spec(
            "change",
            TEXT,
            "newly non-compliant, fixed, status changed, new to the inventory or gone from it",
        ),
        _spec("previous_status", TEXT, "its status in the previous recorded period (None: new)"),
        _spec("status", TEXT, "its status now (None: gone)"),
        _spec("reason", TEXT, "why it has its status now (or had it then, when gone)"),
    ),
)

PERSISTENT_FAILURE_SCHEMA = FrameSchema(
    "persistent failures",
    (
        _spec("account_alias", TEXT, "the account alias"),
        _spec("server_id", TEXT, "the server ID"),
        _spec("patch_key", TEXT, "the patch (see the patches frame)"),
        _spec("title", TEXT, "its title in this period"),
        _spec("failing_since", TEXT, "the first period of the streak of failed latest attempts"),
        _spec("periods", INT, "consecutive recorded periods, this one included"),
        _spec("last_attempt", TIME, "when its latest attempt in this period ran"),
    ),
)


def validate(frame: pd.DataFrame, schema: FrameSchema, attributes: Sequence[str] = ()) -> None:
    """Check that ``frame`` has the schema's columns, in order and of the schema's dtypes,
    then exactly the attribute columns ``attributes`` (categorical) if the schema allows them.

    Raises:
        SchemaError: naming every difference.
    """
    expected = schema.names + (list(attributes) if schema.attributes else [])
    found = [str(name) for name in frame.columns]
    wrong = []
    if found != expected:
        wrong.append(f"columns {found} instead of {expected}")
    specs = {column.name: column for column in schema.columns}
    for name in found:
        spec = specs.get(name)
        column = frame[name]
        if spec is None:
            if name in attributes and not isinstance(column.dtype, pd.CategoricalDtype):
                wrong.append(f"attribute {name!r} is {column.dtype}, not category")
            continue
        if not _dtype_matches(column.dtype, spec.dtype):
            wrong.append(f"{name!r} is {column.dtype}, not {spec.dtype}")
        elif spec.categories is not None and tuple(column.cat.categories) != spec.categories:
            wrong.append(f"{name!r} has categories {list(column.cat.categories)}")
    if wrong:
        raise SchemaError(f"the {schema.name} frame does not match its schema: " + "; ".join(wrong))


def _dtype_matches(dtype: object, expected: str) -> bool:
    """Whether a pandas dtype is the schema dtype ``expected``."""
    if expected == TEXT:
        return str(dtype) in ("object", "str")
    return str(dtype) == expected


def conform(frame: pd.DataFrame, schema: FrameSchema) -> pd.DataFrame:
    """``frame`` with the schema's dtypes, for frames built by hand (tests, empty results).

    Columns the schema does not name are taken for attribute columns and made categorical.
    """
    specs = {column.name: column for column in schema.columns}
    return pd.DataFrame(
        {name: _converted(frame[name], specs.get(str(name))) for name in frame.columns},
        index=frame.index,
    )


def _converted(values: pd.Series, spec: ColumnSpec | None) -> pd.Series:
    """``values`` as the dtype of ``spec`` (an attribute column without one)."""
    if spec is None:
        return values.astype(CATEGORY)
    if spec.dtype == CATEGORY:
        if spec.categories is None:
            return values.astype(CATEGORY)
        dtype = pd.CategoricalDtype(list(spec.categories))
        return pd.Series(pd.Categorical(values, dtype=dtype), index=values.index)
    if spec.dtype == TEXT:
        return values.astype(object)
    if spec.dtype == TIME:
        return pd.to_datetime(values, utc=True).dt.as_unit("ns")
    return values.astype(pd.api.types.pandas_dtype(spec.dtype))


def empty_frame(schema: FrameSchema) -> pd.DataFrame:
    """A frame with the schema's columns and dtypes and no rows."""
    return conform(pd.DataFrame({name: [] for name in schema.names}, dtype=object), schema)


def as_text(values: pd.Series) -> pd.Series:
    """Each of ``values`` as a Python string (a missing one stays missing), in an object column.

    Unlike ``values.astype(str)``, whose categorical path in pandas 2.2 builds a fixed-width
    NumPy array as wide as the longest category for every row (one 1 MB patch title in
    10,000 rows asks for 37 GiB), this converts each category once.

    >>> as_text(pd.Series(["KB1", None, "KB1"], dtype="category")).tolist()
    ['KB1', nan, 'KB1']
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(str)
    categories = [str(value) for value in values.cat.categories]
    lookup = np.array([*categories, np.nan], dtype=object)  # code -1 (missing) is the last
    converted = lookup[values.cat.codes.to_numpy()]
    return pd.Series(converted, index=values.index, dtype=object, name=values.name)
