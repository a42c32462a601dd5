"""What the HTML and PDF templates read: the report model arranged into sections and tables.

Nothing here computes a figure of the report; it picks the rows and columns each section
shows, caps long lists (saying where the rest is) and draws the charts from the model's data
(the executive summary's parts are :mod:`reporter.render.summary`, the title block's
:mod:`reporter.render.cover`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reporter.codes import RESULT_CODES
from reporter.methodology import COMPLIANCE_RULES, OUTCOME_RULE
from reporter.model import ReportModel
from reporter.render.cover import cover_facts, sign_off_lines
from reporter.render.filters import number
from reporter.render.summary import Breakdown, breakdowns, chart_set, kpi_tiles
from reporter.render.table import Column, Table, records

# (id, title) in the order of SPEC 5. The PDF moves "patch-detail" to the end as an appendix,
# and leaves it out when it holds no rows.
SECTIONS = [
    ("title-block", "Report"),
    ("summary", "Executive summary"),
    ("trend", "Trend and changes"),
    ("non-compliant", "Non-compliant servers"),
    ("failed", "Failed patches"),
    ("patch-rollup", "Patch roll-up"),
    ("servers", "Servers"),
    ("executions", "Executions"),
    ("completeness", "Inventory completeness"),
    ("problems", "Problems"),
    ("patch-detail", "Patch detail"),
    ("methodology", "Methodology"),
]
RESULT_OUTCOMES = {
    0: "failed",
    1: "in progress",
    2: "succeeded",
    3: "warning (compliant)",
    4: "failed",
    5: "failed",
}
SUMMARY_ROWS = 50  # rows of the failure summaries (by patch and error; by server in the PDF)


@dataclass
class View:
    """Everything a report template reads."""

    model: ReportModel
    medium: str  # "html" or "pdf"
    sections: list[tuple[str, str]]
    kpis: list[dict[str, Any]]
    charts: dict[str, Any]
    tables: dict[str, Table]
    result_codes: list[dict[str, Any]]
    rules: dict[str, str | list[str]]
    facts: list[tuple[str, str]] = field(default_factory=list)
    sign_off: list[tuple[str, str | None]] = field(default_factory=list)
    groups: list[Breakdown] = field(default_factory=list)
    wide: set[str] = field(default_factory=set)  # sections laid out on landscape pages (PDF)


def capped(
    table_id: str,
    columns: list[Column],
    frame: pd.DataFrame,
    limit: int | None,
    rest: str,
    **options: Any,
) -> Table:
    """A table of at most ``limit`` rows, with a line saying how many there are and where."""
    total = len(frame)
    note = None
    if limit is not None and total > limit:
        note = f"Showing {number(limit)} of {number(total)} {rest}"
    return Table(table_id, columns, records(frame, limit), total, note=note, **options)


def zoned(label: str, model: ReportModel) -> str:
    """A time column's header, naming the zone its times are shown in: ``Start (UTC)``."""
    return f"{label} ({model.meta.timezone})"


def server_columns(model: ReportModel, kind: str = "id", width: str | None = None) -> list[Column]:
    """The server column, after an account column when the report spans several accounts."""
    account = [Column("account_alias", "Account", "id")] if len(model.meta.accounts) > 1 else []
    return [*account, Column("server_id", "Server", kind, width=width)]


def attribute_columns(model: ReportModel) -> list[Column]:
    """One column per inventory attribute shown (``--columns``), headed as in the inventory."""
    return [Column(name, name, "id") for name in model.shown_attributes]


def columns_with(base: list[Column], model: ReportModel) -> list[Column]:
    """``base`` followed by the inventory attribute columns shown."""
    return [*base, *attribute_columns(model)]


def failure_summary_table(model: ReportModel, rest: str) -> Table:
    """The failed attempts per patch and error, most servers first (HTML and PDF)."""
    columns = [
        Column("patch_key", "Patch", "kb", width="29%", sub="title"),
        Column("result", "Result", width="15%", sub="result_meaning"),
        Column("hresult", "HRESULT", "code", width="16%", sub="hresult_name"),
        Column("hresult_meaning", "Error meaning", width="24%"),
        Column("servers", "Servers", "number", width="8%"),
        Column("attempts", "Attempts", "number", width="8%"),
    ]
    return capped(
        "failure-summary",
        columns,
        model.failure_summary,
        SUMMARY_ROWS,
        rest,
        empty="No patch failed.",
    )


def patch_rollup_table(model: ReportModel) -> Table:
    """Each patch across the fleet; the outcome columns add up to Servers (HTML and PDF)."""
    columns = [
        Column("patch_key", "Patch", "kb", width="14%"),
        Column("title", "Title", width="31%"),
        Column("classification", "Classification", width="13%"),
        Column("servers_attempted", "Servers", "number", width="7%"),
        Column("servers_succeeded", "Succeeded", "number", width="8.5%"),
        Column("servers_warnings", "Warnings", "number", width="8%"),
        Column("servers_in_progress", "In progress", "number", width="7%"),
        Column("servers_failed", "Failed", "number", width="5.5%"),
        Column("attempts", "Attempts", "number", width="6%"),
    ]
    return Table(
        "patch-rollup",
        columns,
        records(model.patch_rollup),
        len(model.patch_rollup),
        empty="No patch attempts in the figures.",
    )


def completeness_table(model: ReportModel) -> Table:
    """The completeness check's findings (HTML and PDF)."""
    columns = [
        Column("server_id", "Server", "id", width="17%", sub="account_alias"),
        Column("finding", "Finding", width="17%"),
        Column("group", "Group", width="28%", sub="data_center"),
        Column("reason", "What the account says", width="30%"),
        Column("line", "Line", "number", width="8%"),
    ]
    return Table(
        "completeness",
        columns,
        records(model.completeness),
        len(model.completeness),
        empty="Nothing missing: the inventory lists every active server in scope, and the "
        "account has every server it lists.",
    )


def problems_table(model: ReportModel) -> Table:
    """The problems list, grouped by kind, most serious first (HTML and PDF)."""
    columns = [
        Column("kind", "Kind", width="12%"),
        Column("line", "Line", "number", width="6%"),
        *server_columns(model, width="16%"),
        Column("execution_id", "Execution", "id", width="12%"),
        Column("reason", "Reason"),
    ]
    return Table(
        "problems",
        columns,
        records(model.problems),
        len(model.problems),
        empty="No problems: every inventory row is in the figures.",
    )


def problem_kinds_table(model: ReportModel) -> Table:
    """How many problems of each kind, most serious first (the executive summary)."""
    columns = [
        Column("kind", "Problem kind", width="22%"),
        Column("problems", "Problems", "number", width="12%"),
        Column("meaning", "What it means", width="66%"),
    ]
    kinds = model.problem_kinds
    return Table("problem-kinds", columns, records(kinds), len(kinds), interactive=False)


def hresults_table(model: ReportModel) -> Table:
    """The HRESULTs found in the report, with their names and meanings (the methodology)."""
    columns = [
        Column("hresult", "HRESULT", "code", width="16%"),
        Column("hresult_name", "Name", width="34%"),
        Column("hresult_meaning", "Meaning", width="50%"),
    ]
    return Table(
        "hresults", columns, records(model.hresults), len(model.hresults), interactive=False
    )


def build_view(
    model: ReportModel,
    *,
    medium: str,
    detail_limit: int | None,
    table_factory: Callable[[ReportModel, int | None], dict[str, Table]],
    wide: set[str] | None = None,
) -> View:
    """Arrange ``model`` for a template.

    Args:
        model: the report model.
        medium: ``"html"`` or ``"pdf"``.
        detail_limit: the most patch-detail rows to show (None: all; 0: none).
        table_factory: a function ``(model, detail_limit) -> dict[str, Table]`` choosing each
            medium's tables (see :mod:`reporter.render.html` and :mod:`reporter.render.pdf`).
        wide: the sections to lay out on landscape pages (the PDF's wide tables).
    """
    sections = list(SECTIONS)
    if medium == "pdf":  # the long appendix goes last, where an auditor expects it
        detail = sections.pop(next(i for i, (s, _) in enumerate(sections) if s == "patch-detail"))
        sections.append(detail)
    result_codes = [
        {"code": c.code, "name": c.name, "meaning": c.meaning, "outcome": RESULT_OUTCOMES[c.code]}
        for c in sorted(RESULT_CODES.values(), key=lambda c: c.code)
    ]
    tables = table_factory(model, detail_limit)
    tables["problem-kinds"] = problem_kinds_table(model)
    return View(
        model=model,
        medium=medium,
        sections=sections,
        kpis=kpi_tiles(model),
        charts=chart_set(model),
        tables=tables,
        result_codes=result_codes,
        rules={"compliance": COMPLIANCE_RULES, "outcome": OUTCOME_RULE},
        facts=cover_facts(model),
        sign_off=sign_off_lines(model),
        groups=breakdowns(model, rows=None if medium == "html" else SUMMARY_ROWS),
        wide=set(wide or ()),
    )


def period_label(model: ReportModel) -> str:
    """How the title block and the running header name what the report covers.

    With a period, the month; without, what was counted and the run's date.
    """
    meta = model.meta
    if meta.period:
        try:
            month = pd.Timestamp(f"{meta.period}-01").strftime("%B %Y")
        except ValueError:
            return f"Period {meta.period}"
        return f"{month} ({meta.period})"
    scope = meta.scope[:1].upper() + meta.scope[1:]
    return f"{scope}, {meta.label}"


def template_context(view: View, **extra: Any) -> dict[str, Any]:
    """The variables every report template reads."""
    meta = view.model.meta
    titles = dict(view.sections)
    if view.medium == "pdf":
        titles["patch-detail"] = "Appendix: patch detail"
    accounts = ", ".join(meta.accounts)
    created = pd.Timestamp(meta.generated_at)
    created = created.tz_localize("UTC") if created.tzinfo is None else created.tz_convert("UTC")
    return {
        "view": view,
        "model": view.model,
        "meta": meta,
        "medium": view.medium,
        "timezone": meta.timezone,
        "period_label": period_label(view.model),
        "section_titles": titles,
        "description": f"Patch compliance of {number(view.model.kpis.servers)} servers"
        f" ({accounts or 'no account'}), {period_label(view.model)}",
        "keywords": ", ".join(["patch compliance", meta.label, meta.report_id, *meta.accounts]),
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "footer": " · ".join([accounts or "no account", meta.label, f"Report ID {meta.report_id}"]),
        "appendix_pending": False,
        "failed_note": "",
        "attachments": [],
        **extra,
    }
