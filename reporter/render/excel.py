"""The Excel workbook: every table of the report as typed, filterable sheets (SPEC 5).

Sheets, in order: Summary, Trend, Changes, Persistent failures, By group (with
``--group-by``), Servers, Executions, Patches, Failed, Required and Required by server (with a
baseline), Exceptions (with exceptions), Patch Rollup, Completeness, Problems, Outside period
(with a period), Definitions. A table longer than a sheet holds continues on "Patches (2)",
"Patches (3)", ... Every sheet prints landscape, fit to the page's width, with its header row
repeated on each printed page.

Cells are typed: times are Excel date-times (in the report's time zone, which the header
names), numbers are numbers,
booleans are booleans, unknown values are blank. Every text cell that a spreadsheet would read
as a formula gets a leading ``'`` (SPEC 7), and the workbook never turns strings into formulas,
links or numbers on its own; the only links are the KB numbers, on purpose.

Speed (SPEC 8: >= 20,000 patch rows/s, where pandas' ``to_excel`` manages a fraction of
that): each column is planned once on its distinct values (text neutralised and put in the
shared-string table, times turned into Excel serial numbers in one vectorised step), and the
big tables' rows are then written as joined XML by
:class:`reporter.render.xlsx_rows.RowsXmlWorksheet` instead of one
XlsxWriter call per cell (or cell by cell through XlsxWriter's public API, about a fifth as
fast, when its internals are not as that class expects). The workbook itself (styles, panes,
filters, conditional formats, links, packaging) is XlsxWriter's.
"""

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

try:  # XlsxWriter >= 3.2.3: a parsed link can be reused for every cell of the same KB
    from xlsxwriter.url import Url
except ImportError:  # pragma: no cover - older XlsxWriter parses each link string itself
    Url = None

from reporter.derive import KB_NUMBER
from reporter.errors import RenderError
from reporter.fileio import atomic_path
from reporter.model import ReportModel
from reporter.render.cells import KB_ARTICLE_URL, neutralise
from reporter.render.progress import StageProgress
from reporter.render.xlsx_columns import ColumnPlan, plan_column
from reporter.render.xlsx_rows import FAST_SHEET_DATA, RowsXmlWorksheet
from reporter.render.xlsx_sheets import (
    DATE_FORMAT,
    Styles,
    print_setup,
    write_definitions,
    write_summary,
)
from reporter.render.xlsx_standard import outside_period_sheet, standard_sheets

EXCEL_MAX_ROWS = 1_048_576  # rows per sheet, header included
EXCEL_MAX_URLS = 65_530  # hyperlinks per sheet
WIDTH_SAMPLE = 200  # rows looked at to size a column
MIN_WIDTH, MAX_WIDTH = 6, 60
PROGRESS_ROWS = 10_000  # rows written cell by cell between two progress updates


# Words that read better in capitals in a column header.
HEADER_WORDS = {
    "id": "ID",
    "kb": "KB",
    "kbs": "KBs",
    "hresult": "HRESULT",
    "rpm": "RPM",
    "s": "(s)",
    "pct": "%",
}


def render_xlsx(
    model: ReportModel,
    path: Path,
    *,
    max_rows: int = EXCEL_MAX_ROWS,
    progress: StageProgress | None = None,
) -> Path:
    """Write ``model`` to ``path`` as an Excel workbook, atomically.

    Args:
        model: The report model.
        path: Where to write the ``.xlsx`` (replaced whole, or left as it was on failure).
        max_rows: Rows per sheet, header included; longer tables continue on a new sheet.
            Excel's limit by default; smaller values exist for tests.
        progress: where to say which sheet is being written and how far (on a terminal).

    Returns:
        ``path``.

    Raises:
        RenderError: The workbook could not be written.
    """
    if max_rows < 2:
        raise ValueError("max_rows must leave room for a header and a row")
    with atomic_path(Path(path)) as tmp:
        workbook = xlsxwriter.Workbook(
            str(tmp),
            {
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "default_date_format": DATE_FORMAT,
            },
        )
        styles = Styles(workbook)
        workbook.set_properties(
            {
                "title": neutralise(f"{model.meta.title} {model.meta.label}"),
                "author": "reporter",
                "comments": f"reporter {model.meta.tool_version}",
                "created": model.meta.generated_at.replace(tzinfo=None),
            }
        )
        write_summary(workbook, styles, model)
        tables = [
            ("Trend", model.trend, None, None),
            ("Changes", model.changes, "change", "newly non-compliant"),
            ("Persistent failures", model.persistent_failures, None, None),
            ("Servers", model.servers, "compliance", "Non-compliant"),
            ("Executions", model.executions, "status", "failed"),
            ("Patches", model.patches, "outcome", "failed"),
            ("Failed", model.failed, None, None),
            *standard_sheets(model),
            ("Patch Rollup", model.patch_rollup, None, None),
            ("Completeness", model.completeness, None, None),
            ("Problems", model.problems, None, None),
            *outside_period_sheet(model),
        ]
        if len(model.by_group):  # after the history's sheets, before the servers
            tables.insert(
                [name for name, *_ in tables].index("Servers"),
                ("By group", model.by_group, None, None),
            )
        attributes = set(model.attribute_columns)
        for name, frame, flag_column, flag_value in tables:
            write_table(
                workbook,
                styles,
                name,
                frame,
                max_rows,
                flag_column,
                flag_value,
                attributes,
                model.meta.timezone,
                progress,
            )
        write_definitions(workbook, styles, model)
        if progress is not None:
            progress.step("writing the workbook")
            progress.result(
                f"{len(workbook.worksheets())} sheets, {len(model.patches):,} patch rows"
            )
        try:
            workbook.close()
        except (OSError, xlsxwriter.exceptions.XlsxWriterException) as error:
            raise RenderError(f"cannot write the Excel report {path}: {error}") from error
    return Path(path)


def write_table(
    workbook: xlsxwriter.Workbook,
    styles: Styles,
    name: str,
    frame: pd.DataFrame,
    max_rows: int,
    flag_column: str | None = None,
    flag_value: str | None = None,
    attributes: Collection[str] = (),
    zone: str = "UTC",
    progress: StageProgress | None = None,
) -> None:
    """Write ``frame`` as one or more sheets named ``name``, ``name (2)``, ... .

    Each sheet gets the styled header, frozen and repeated on every printed page, a filter,
    sized columns and the print set-up; rows whose ``flag_column`` equals ``flag_value`` are
    highlighted by a conditional format. The ``attributes`` (inventory columns) keep their
    headers as written. Times are shown in ``zone``, which their headers name. ``progress``
    hears of each sheet, and of its rows as they are written.
    """
    if progress is not None:
        progress.step(f"preparing {name}: {len(frame):,} rows")
    plans = [plan_column(str(c), frame.iloc[:, i], zone) for i, c in enumerate(frame.columns)]
    headers = [header_label(plan.name, plan.kind, plan.name in attributes, zone) for plan in plans]
    names = [plan.name for plan in plans]
    kb_col = names.index("kb") if "kb" in names else None
    per_sheet = max_rows - 1
    for page, start in enumerate(range(0, max(len(frame), 1), per_sheet), start=1):
        stop = min(start + per_sheet, len(frame))
        fast = FAST_SHEET_DATA
        sheet = workbook.add_worksheet(
            name if page == 1 else f"{name} ({page})",
            worksheet_class=RowsXmlWorksheet if fast else None,
        )
        for col, (plan, header) in enumerate(zip(plans, headers, strict=True)):
            sample = plan.values[plan.codes[start : min(stop, start + WIDTH_SAMPLE)]]
            sheet.set_column(
                col,
                col,
                column_width(header, sample, plan.kind),
                styles.date if plan.kind == "datetime" else None,
            )
        sheet.freeze_panes(1, 0)
        print_setup(sheet, header_rows=1)
        if not plans:
            continue
        rows, last_col = stop - start, len(plans) - 1
        sheet.autofilter(0, 0, max(rows, 1), last_col)
        if flag_column in names and rows:
            letter = xl_col_to_name(names.index(flag_column))
            criteria = f'=${letter}2="{flag_value}"'
            rule = {"type": "formula", "criteria": criteria, "format": styles.failed}
            sheet.conditional_format(1, 0, rows, last_col, rule)
        linked = kb_links(plans[kb_col], start, stop) if kb_col is not None else None
        formats = (styles.header, styles.date, styles.link)
        if fast and sheet.load_rows(plans, headers, start, stop, linked, formats):
            sheet.progress = progress  # the rows are written when the workbook is closed
        else:
            write_cells(sheet, styles, plans, headers, start, stop, progress)
        if linked is not None and kb_col is not None:
            write_kb_links(sheet, styles, plans[kb_col], kb_col, start, linked)


def write_cells(
    sheet: Worksheet,
    styles: Styles,
    plans: Sequence[ColumnPlan],
    headers: Sequence[str],
    start: int,
    stop: int,
    progress: StageProgress | None = None,
) -> None:
    """Write the header and rows ``start:stop`` cell by cell, through XlsxWriter's public API."""
    sheet.write_row(0, 0, headers, styles.header)
    columns = [plan.values[plan.codes[start:stop]].tolist() for plan in plans]
    for number, row in enumerate(zip(*columns, strict=True), start=1):
        sheet.write_row(number, 0, row)
        if progress is not None and (number % PROGRESS_ROWS == 0 or number == stop - start):
            progress.count(sheet.name, number, stop - start)


def write_kb_links(
    sheet: Worksheet, styles: Styles, plan: ColumnPlan, col: int, start: int, linked: np.ndarray
) -> None:
    """Link the KB cells marked in ``linked`` to Microsoft's support article."""
    urls: dict[int, object] = {}  # one parsed link per distinct KB: parsing dominates otherwise
    for position in np.flatnonzero(linked).tolist():
        code = int(plan.codes[start + position])
        kb = plan.values[code]
        if Url is None:
            sheet.write_url(position + 1, col, KB_ARTICLE_URL.format(kb[2:]), styles.link, kb)
            continue
        url = urls.get(code)
        if url is None:
            url = urls[code] = Url(KB_ARTICLE_URL.format(kb[2:]))
            url.text = kb
        sheet.write_url(position + 1, col, url, styles.link)


def kb_links(plan: ColumnPlan, start: int, stop: int) -> np.ndarray:
    """Which rows of ``start:stop`` get a KB link: KB numbers only, at most Excel's cap."""
    is_kb = np.array([isinstance(v, str) and bool(KB_NUMBER.fullmatch(v)) for v in plan.values])
    linked = is_kb[plan.codes[start:stop]]
    linked &= np.cumsum(linked) <= EXCEL_MAX_URLS
    return linked


def header_label(name: str, kind: str, as_written: bool = False, zone: str = "UTC") -> str:
    """A column header: ``execution_start`` -> ``Execution start (UTC)``, unless ``as_written``.

    A time column's header names the zone its times are in.
    """
    words = name.split("_")
    if not as_written and name.islower() and all(words):
        words = [HEADER_WORDS.get(word, word) for word in words]
        label = " ".join(words)
        label = label[0].upper() + label[1:]
    else:
        label = name
    if kind == "datetime":
        label += f" ({zone})"
    return neutralise(label)


def column_width(header: str, sample: Sequence, kind: str) -> float:
    """A column width from its header and a sample of its values, within sensible bounds."""
    if kind == "datetime":
        return max(19, min(len(header), 30) + 2)
    longest = max((len(str(value)) for value in sample if value is not None), default=0)
    if kind == "number":
        longest = min(longest, 12)
    return float(max(MIN_WIDTH, min(MAX_WIDTH, max(longest, min(len(header), 24)) + 2)))
