"""The executive summary as the HTML and PDF show it: KPI tiles, charts, compliance by group."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from reporter.model import (
    COMPLIANCE_STATUSES,
    COMPLIANT,
    IN_PROGRESS,
    NO_DATA,
    NON_COMPLIANT,
    ReportModel,
)
from reporter.render import charts
from reporter.render.filters import number, percent
from reporter.render.table import Column, Table, records

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
GROUP_BARS = 12  # groups drawn in a breakdown's chart: the biggest ones


@dataclass
class Breakdown:
    """Compliance by the values of one inventory attribute (``--group-by``)."""

    attribute: str
    table: Table
    chart: Markup


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
    per_class: list[list[int]] = by_class.to_numpy(dtype=np.int64).tolist()
    rows = list(zip(map(str, by_class.index), per_class, strict=True))
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


def breakdowns(model: ReportModel, rows: int | None) -> list[Breakdown]:
    """One breakdown per ``--group-by`` attribute: a table of every group (at most ``rows``,
    saying where the rest is) and a chart of the biggest."""
    found: list[Breakdown] = []
    columns = [
        Column("group", "Group", "id", width="30%"),
        Column("servers", "Servers", "number", width="10%"),
        Column("compliance_pct", "Compliant %", "percent", width="12%"),
        *(Column(status, status, "number") for status in COMPLIANCE_STATUSES),
    ]
    for attribute, frame in model.by_group.groupby("attribute", sort=False):
        shown = frame if rows is None else frame.head(rows)
        note = None
        if len(shown) < len(frame):
            note = (
                f"Showing the {number(len(shown))} biggest of {number(len(frame))} groups; "
                "every group is on the Excel report's By group sheet."
            )
        table = Table(
            f"by-group-{len(found) + 1}",
            columns,
            records(shown),
            len(frame),
            note=note,
        )
        series = [
            (status, STATUS_COLOURS.get(status, charts.GREY)) for status in COMPLIANCE_STATUSES
        ]
        bars = [
            (str(row["group"]), [int(row[status]) for status in COMPLIANCE_STATUSES])
            for row in records(frame.head(GROUP_BARS))
        ]
        label = f"Servers by compliance status, by {attribute}"
        found.append(Breakdown(str(attribute), table, charts.stacked_bars(bars, series, label)))
    return found
