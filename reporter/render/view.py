"""What the HTML and PDF templates read: the report model arranged into sections and tables.

Nothing here computes a figure of the report; it picks the rows and columns each section
shows, caps long lists (saying where the rest is) and draws the charts from the model's data.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd
from markupsafe import Markup

from reporter.codes import RESULT_CODES
from reporter.methodology import COMPLIANCE_RULES, OUTCOME_RULE
from reporter.model import COMPLIANT, IN_PROGRESS, NO_DATA, NON_COMPLIANT, ReportModel
from reporter.render import charts
from reporter.render.filters import number, percent, timestamp

# (id, title) in the order of SPEC 5. The PDF moves "patch-detail" to the end as an appendix.
SECTIONS = [
    ("title-block", "Report"),
    ("summary", "Executive summary"),
    ("trend", "Trend and changes"),
    ("non-compliant", "Non-compliant servers"),
    ("failed", "Failed patches"),
    ("kb-rollup", "KB roll-up"),
    ("servers", "Servers"),
    ("executions", "Executions"),
    ("completeness", "Inventory completeness"),
    ("problems", "Problems"),
    ("patch-detail", "Patch detail"),
    ("methodology", "Methodology"),
]
STATUS_COLOURS = {
    COMPLIANT: charts.GREEN,
    NON_COMPLIANT: charts.RED,
    IN_PROGRESS: charts.AMBER,
    NO_DATA: charts.GREY,
}
OUTCOME_SERIES = [
    ("succeeded", charts.GREEN),
    ("warning", charts.OLIVE),
    ("failed", charts.RED),
    ("in progress", charts.AMBER),
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


@dataclass(frozen=True)
class Column:
    """One table column: which field, its header, how to format it (a filter kind).

    ``kind`` is one of text, id (an identifier kept on one line on screen), number, time,
    duration, yes_no, status, kb, code. ``sub`` names a
    second field shown under the value in small type (formatted as ``sub_kind``), which keeps
    the PDF's tables narrow enough for a portrait page.
    """

    key: str
    label: str
    kind: str = "text"
    width: str | None = None
    sub: str | None = None
    sub_kind: str = "text"


@dataclass
class Table:
    """Rows to show (already capped), with how many there are in all and where the rest is."""

    id: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: int
    empty: str = "None."
    note: str | None = None
    interactive: bool = True
    css: str = ""


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


def records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` rows of ``frame`` as dicts (categoricals read as plain values)."""
    head = frame if limit is None else frame.head(limit)
    return cast(list[dict[str, Any]], head.to_dict("records"))  # the model's columns are text


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


def failure_summary_table(model: ReportModel, rest: str) -> Table:
    """The failed attempts per patch and error, most servers first (HTML and PDF)."""
    columns = [
        Column("patch_key", "Patch", "kb", width="17%", sub="title"),
        Column("result", "Result", width="16%", sub="result_meaning"),
        Column("hresult", "HRESULT", "code", width="15%", sub="hresult_name"),
        Column("hresult_meaning", "Error meaning", width="30%"),
        Column("servers", "Servers", "number", width="10%"),
        Column("attempts", "Attempts", "number", width="12%"),
    ]
    return capped(
        "failure-summary",
        columns,
        model.failure_summary,
        SUMMARY_ROWS,
        rest,
        empty="No patch failed.",
    )


def kb_rollup_table(model: ReportModel) -> Table:
    """Each patch across the fleet (HTML and PDF)."""
    columns = [
        Column("patch_key", "Patch", "kb", width="14%"),
        Column("title", "Title", width="38%"),
        Column("classification", "Classification", width="14%"),
        Column("servers_attempted", "Servers", "number", width="8%"),
        Column("servers_succeeded", "Succeeded", "number", width="9%"),
        Column("servers_failed", "Failed", "number", width="8%"),
        Column("attempts", "Attempts", "number", width="9%"),
    ]
    return Table("kb-rollup", columns, records(model.kb_rollup), len(model.kb_rollup))


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
    """The problems list (HTML and PDF)."""
    columns = [
        Column("line", "Line", "number", width="6%"),
        Column("kind", "Kind", width="13%"),
        Column("server_id", "Server", width="17%", sub="account_alias"),
        Column("execution_id", "Execution", width="13%"),
        Column("reason", "Reason", width="51%"),
    ]
    return Table(
        "problems",
        columns,
        records(model.problems),
        len(model.problems),
        empty="No problems: every inventory row is in the figures.",
    )


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


def attribute_columns(model: ReportModel) -> list[Column]:
    """One text column per inventory attribute, headed as in the inventory (as Excel does)."""
    return [Column(name, name) for name in model.attribute_columns]


def kpi_tiles(model: ReportModel) -> list[dict[str, Any]]:
    """The executive summary's tiles: label, value, detail line and status class."""
    k = model.kpis
    coverage = model.coverage
    tiles = [
        {"label": "Servers in scope", "value": number(k.servers), "detail": "in the inventory"},
        {
            "label": "Inventory coverage",
            "value": percent(coverage.listed_pct) if coverage.performed else "—",
            "detail": f"{number(coverage.listed)} of {number(coverage.active)} active servers"
            if coverage.performed
            else "not checked",
            "css": "bad" if coverage.not_listed else "",
        },
        {
            "label": "Compliant",
            "value": percent(k.compliant_pct),
            "detail": f"{number(k.compliant)} of {number(k.servers)} servers",
            "css": "ok",
        },
        {"label": "Non-compliant", "value": number(k.non_compliant), "css": "bad"},
        {"label": "In progress", "value": number(k.in_progress), "css": "wait"},
        {"label": "No data", "value": number(k.no_data), "css": "none"},
        {"label": "Executions", "value": number(k.executions), "detail": "in the figures"},
        {
            "label": "Patches attempted",
            "value": number(k.patches_attempted),
            "detail": f"{number(k.in_progress_patches)} still in progress",
        },
        {
            "label": "Succeeded",
            "value": number(k.succeeded),
            "detail": f"plus {number(k.warnings)} with warnings",
            "css": "ok",
        },
        {
            "label": "Failed",
            "value": number(k.failed),
            "detail": "attempts, retries included",
            "css": "bad",
        },
    ]
    return [{"css": "", "detail": "", **tile} for tile in tiles]


def chart_set(model: ReportModel) -> dict[str, Any]:
    """The summary charts as inline SVG."""
    k = model.kpis
    counts = {
        COMPLIANT: k.compliant,
        NON_COMPLIANT: k.non_compliant,
        IN_PROGRESS: k.in_progress,
        NO_DATA: k.no_data,
    }
    segments = [charts.Segment(s, v, STATUS_COLOURS[s]) for s, v in counts.items()]
    names = [name for name, _ in OUTCOME_SERIES]
    by_class = model.results_by_classification.reindex(columns=names, fill_value=0)
    rows = [
        (str(label), [int(count) for count in counts])
        for label, counts in zip(by_class.index, by_class.to_numpy().tolist(), strict=True)
    ]
    return {
        "compliance": charts.donut(
            segments, percent(k.compliant_pct), "compliant", "Servers by compliance status"
        ),
        "classification": charts.stacked_bars(
            rows, OUTCOME_SERIES, "Patch attempts by classification and result"
        ),
        "by_kb": charts.bars(
            _pairs(model.failures_by_kb), charts.RED, "Servers failing, by patch", "servers failing"
        ),
        "by_server": charts.bars(
            _pairs(model.failures_by_server),
            charts.RED,
            "Patches failing, by server",
            "patches failing",
        ),
        "trend": trend_chart(model),
    }


def trend_chart(model: ReportModel) -> Markup:
    """Servers by status per recorded period, with each period's compliance % above."""
    trend = model.trend
    statuses = [status for status in STATUS_COLOURS if status in trend.columns]
    periods = [
        (
            str(row["label"]),
            [0 if pd.isna(row[status]) else int(row[status]) for status in statuses],
            percent(row["compliance_pct"]),
        )
        for row in trend.to_dict("records")
    ]
    series = [(status, STATUS_COLOURS[status]) for status in statuses]
    return charts.columns(periods, series, "Servers by status and compliance %, by period")


def _pairs(series: pd.Series) -> list[tuple[str, int]]:
    return [(str(key), int(value)) for key, value in series.items() if not pd.isna(value)]


def title_block_facts(model: ReportModel) -> list[tuple[str, str]]:
    """The title block: what the report covers and where its data came from."""
    meta = model.meta
    span = "no executions in the figures"
    if meta.span_start is not None and not pd.isna(meta.span_start):
        span = f"{timestamp(meta.span_start)} to {timestamp(meta.span_end)}"
    return [
        ("Period", meta.period or f"latest execution per server (run of {meta.label})"),
        ("Executions started", span),
        ("Account(s)", ", ".join(meta.accounts) or "—"),
        ("Generated", timestamp(meta.generated_at)),
        ("Tool version", f"reporter {meta.tool_version}"),
        ("Data source", meta.data_source),
        ("Input file", meta.input_name),
        ("Input SHA-256", meta.input_sha256),
        ("Evidence manifest SHA-256", meta.manifest_sha256 or "no evidence manifest"),
    ]


def build_view(
    model: ReportModel,
    *,
    medium: str,
    detail_limit: int | None,
    table_factory: Any,
) -> View:
    """Arrange ``model`` for a template.

    Args:
        model: the report model.
        medium: ``"html"`` or ``"pdf"``.
        detail_limit: the most patch-detail rows to show (None: all; 0: none).
        table_factory: a function ``(model, detail_limit) -> dict[str, Table]`` choosing each
            medium's tables (see :mod:`reporter.render.html` and :mod:`reporter.render.pdf`).
    """
    sections = list(SECTIONS)
    if medium == "pdf":  # the long appendix goes last, where an auditor expects it
        detail = sections.pop(next(i for i, (s, _) in enumerate(sections) if s == "patch-detail"))
        sections.append(detail)
    result_codes = [
        {"code": c.code, "name": c.name, "meaning": c.meaning, "outcome": RESULT_OUTCOMES[c.code]}
        for c in sorted(RESULT_CODES.values(), key=lambda c: c.code)
    ]
    return View(
        model=model,
        medium=medium,
        sections=sections,
        kpis=kpi_tiles(model),
        charts=chart_set(model),
        tables=table_factory(model, detail_limit),
        result_codes=result_codes,
        rules={"compliance": COMPLIANCE_RULES, "outcome": OUTCOME_RULE},
        facts=title_block_facts(model),
    )


def columns_with(base: Sequence[Column], model: ReportModel) -> list[Column]:
    """``base`` followed by the inventory attribute columns."""
    return [*base, *attribute_columns(model)]


def period_label(model: ReportModel) -> str:
    """How the title block and the running header name what the report covers."""
    meta = model.meta
    if meta.period:
        try:
            month = pd.Timestamp(f"{meta.period}-01").strftime("%B %Y")
        except ValueError:
            return f"Period {meta.period}"
        return f"{month} ({meta.period})"
    return f"Latest executions, {meta.label}"


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
        "period_label": period_label(view.model),
        "section_titles": titles,
        "description": f"Patch compliance of {number(view.model.kpis.servers)} servers"
        f" ({accounts or 'no account'}), {period_label(view.model)}",
        "keywords": ", ".join(["patch compliance", meta.label, *meta.accounts]),
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "appendix_pending": False,
        "failed_note": "",
        **extra,
    }
