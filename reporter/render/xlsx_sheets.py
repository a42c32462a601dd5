"""The workbook's sheets that are not tables (Summary, Definitions), and what every sheet
shares: its few cell styles and its print set-up (SPEC 5)."""

import zoneinfo
from datetime import datetime

import pandas as pd
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from reporter.codes import RESULT_CODES
from reporter.methodology import COMPLIANCE_RULES, OUTCOME_RULE
from reporter.model import ReportModel
from reporter.render.cells import neutralise

DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
SIGN_HERE = "(to be signed)"  # a sign-off line the config names nobody for
HRESULT_TEXTS = ("hresult", "hresult_name", "hresult_meaning")  # the Definitions' text columns


class Styles:
    """The workbook's few cell formats, created once."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.header = workbook.add_format(
            {"bold": True, "bg_color": "#1F3864", "font_color": "#FFFFFF", "text_wrap": True}
        )
        self.header.set_align("top")
        self.section = workbook.add_format({"bold": True, "font_size": 12})
        self.label = workbook.add_format({"bold": True})
        self.date = workbook.add_format({"num_format": DATE_FORMAT})
        self.percent = workbook.add_format({"num_format": "0.0%"})
        self.link = workbook.add_format({"font_color": "#0563C1", "underline": 1})
        self.wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        self.failed = workbook.add_format({"bg_color": "#F8D7DA", "font_color": "#842029"})


def print_setup(sheet: Worksheet, header_rows: int = 0) -> None:
    """Print ``sheet`` landscape, fit to one page wide, repeating its first ``header_rows``."""
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)  # as wide as one page, as long as it takes
    if header_rows:
        sheet.repeat_rows(0, header_rows - 1)


def write_summary(workbook: xlsxwriter.Workbook, styles: Styles, model: ReportModel) -> None:
    """The Summary sheet: the title block, the sign-off, the executive-summary figures, one per
    row, then the problems by kind and the patch results by classification."""
    meta, kpis = model.meta, model.kpis
    zone = meta.timezone
    sheet = workbook.add_worksheet("Summary")
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 70)
    sheet.write_row(0, 0, ["Item", "Value"], styles.header)
    sheet.freeze_panes(1, 0)
    print_setup(sheet, header_rows=1)
    sign_off = meta.sign_off
    facts: list[tuple[str | None, object]] = [
        ("Title", meta.title),
        ("Document classification", meta.classification),
        ("Report ID", meta.report_id),
        ("Period", meta.period or f"not limited (report of {meta.label})"),
        ("Executions counted", meta.scope),
        ("Accounts", ", ".join(meta.accounts)),
        (f"Generated at ({zone})", meta.generated_at),
        ("Time zone", f"{zone} (the CSV, the evidence and the history stay in UTC)"),
        ("Tool version", f"reporter {meta.tool_version}"),
        ("Data source", meta.data_source),
        ("Input file", meta.input_name),
        ("Input file SHA-256", meta.input_sha256),
        ("Evidence manifest SHA-256", meta.manifest_sha256),
        (f"First execution start ({zone})", meta.span_start),
        (f"Last execution start ({zone})", meta.span_end),
        ("Prepared by", sign_off.prepared_by or SIGN_HERE),
        ("Reviewed by", sign_off.reviewed_by or SIGN_HERE),
        ("Approved by", sign_off.approved_by or SIGN_HERE),
        (None, None),
        ("Servers in scope", kpis.servers),
        ("Compliant (% of servers)", kpis.compliant_pct / 100),
        ("Compliant servers", kpis.compliant),
        ("Non-compliant servers", kpis.non_compliant),
        ("Servers in progress", kpis.in_progress),
        ("Servers with no data", kpis.no_data),
        ("Executions", kpis.executions),
        ("Patches attempted", kpis.patches_attempted),
        ("Patches succeeded", kpis.succeeded),
        ("Patches succeeded with warnings", kpis.warnings),
        ("Patches failed", kpis.failed),
        ("Patches in progress", kpis.in_progress_patches),
        ("Problems", kpis.problems),
        *coverage_facts(model),
    ]
    row = 1
    for label, value in facts:
        if label is not None:
            sheet.write_string(row, 0, label, styles.label)
            write_value(
                sheet, styles, row, 1, value, percent=label.startswith("Compliant ("), zone=zone
            )
        row += 1
    if len(model.problem_kinds):
        row += 1
        sheet.write_string(row, 0, "Problems by kind, most serious first", styles.section)
        row += 1
        sheet.write_row(row, 0, ["Kind", "Problems", "What it means"], styles.header)
        for kind in model.problem_kinds.to_dict("records"):
            row += 1
            sheet.write_string(row, 0, neutralise(str(kind["kind"])))
            sheet.write_number(row, 1, int(kind["problems"]))
            sheet.write_string(row, 2, neutralise(str(kind["meaning"])))
    counts = model.results_by_classification
    if not counts.empty:
        row += 2
        sheet.write_string(row, 0, "Patch results by classification", styles.section)
        row += 1
        sheet.write_row(row, 0, ["Classification", *map(str, counts.columns)], styles.header)
        for classification, figures in counts.iterrows():
            row += 1
            sheet.write_string(row, 0, neutralise(str(classification)))
            sheet.write_row(row, 1, [int(value) for value in figures])


def coverage_facts(model: ReportModel) -> list[tuple[str | None, object]]:
    """The Summary rows of the completeness check: its scope, then one line per account."""
    coverage = model.coverage
    facts: list[tuple[str | None, object]] = [(None, None)]
    if not coverage.performed:
        facts.append(("Inventory completeness", f"not performed: {coverage.reason}"))
        return facts
    facts.append(("Inventory completeness scope", coverage.scope))
    for account in coverage.accounts:
        alias = account.account_alias
        facts += [
            (f"Active servers of {alias}", account.active),
            (f"Listed by the inventory ({alias})", account.listed),
            (f"Not in the inventory ({alias})", account.not_listed),
            (f"Inventory servers not in {alias}", account.not_in_account),
        ]
    facts += [(f"Not checked: {alias}", why) for alias, why in coverage.skipped]
    return facts


def write_value(
    sheet: Worksheet,
    styles: Styles,
    row: int,
    col: int,
    value: object,
    percent: bool,
    zone: str = "UTC",
) -> None:
    """One typed Summary value: a time as a date in ``zone``, a number as a number, text
    neutralised."""
    if value is None or value is pd.NaT:
        return
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        local = stamp.tz_convert(zoneinfo.ZoneInfo(zone)).tz_localize(None)
        sheet.write_datetime(row, col, local.to_pydatetime(), styles.date)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, styles.percent if percent else None)
    else:
        sheet.write_string(row, col, neutralise(str(value)))


def write_definitions(workbook: xlsxwriter.Workbook, styles: Styles, model: ReportModel) -> None:
    """The Definitions sheet: result codes, the HRESULTs in this report, the compliance rules."""
    sheet = workbook.add_worksheet("Definitions")
    print_setup(sheet)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 36)
    sheet.set_column(2, 2, 90, styles.wrap)
    sheet.write_string(0, 0, "Windows Update result codes (Result Code: N)", styles.section)
    sheet.write_row(1, 0, ["Code", "Result", "Meaning"], styles.header)
    row = 2
    for code in sorted(RESULT_CODES):
        entry = RESULT_CODES[code]
        sheet.write_row(row, 0, [entry.code, entry.name, entry.meaning])
        row += 1
    row += 1
    sheet.write_string(row, 0, "HRESULTs in this report", styles.section)
    sheet.write_row(row + 1, 0, ["HRESULT", "Name", "Meaning", "Attempts"], styles.header)
    row += 2
    for seen in model.hresults.to_dict("records"):
        texts = [neutralise("" if pd.isna(seen[k]) else str(seen[k])) for k in HRESULT_TEXTS]
        sheet.write_row(row, 0, [*texts, int(seen["attempts"])])
        row += 1
    row += 1
    sheet.write_string(row, 0, "Compliance rules", styles.section)
    for rule in COMPLIANCE_RULES:
        row += 1
        sheet.write_string(row, 0, rule)
    row += 2
    sheet.write_string(row, 0, "Outcome of a patch attempt", styles.section)
    sheet.write_string(row + 1, 0, OUTCOME_RULE)
    row += 3
    sheet.write_string(row, 0, "Data source", styles.section)
    sheet.write_string(row + 1, 0, neutralise(model.meta.data_source))
