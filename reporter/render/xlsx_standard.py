"""The workbook's parts for the standard (SPEC 4a) and the executions outside the period: their
sheets, their Summary lines and their Definitions."""

from typing import Any

import pandas as pd

from reporter.methodology import STANDARD_RULES
from reporter.model import ReportModel

# (sheet name, frame, column to flag, value flagged), as render_xlsx lists its tables.
SheetSpec = tuple[str, pd.DataFrame, str | None, str | None]


def standard_sheets(model: ReportModel) -> list[SheetSpec]:
    """Required and Required by server (with a baseline); Exceptions (with exceptions)."""
    sheets: list[SheetSpec] = []
    if model.standard.has_baseline:
        sheets.append(("Required", model.required_rollup, None, None))
        sheets.append(("Required by server", model.required, "state", "Overdue"))
    if model.standard.has_exceptions:
        sheets.append(("Exceptions", model.exceptions, "state", "expired"))
    return sheets


def outside_period_sheet(model: ReportModel) -> list[SheetSpec]:
    """Outside period, with a period (or any execution listed outside it)."""
    if model.meta.period is None and model.outside_period.empty:
        return []
    return [("Outside period", model.outside_period, None, None)]


def standard_facts(model: ReportModel) -> list[tuple[str | None, object]]:
    """The Summary sheet's lines about the standard (SPEC 4a), when there is one."""
    standard, kpis = model.standard, model.kpis
    facts: list[tuple[str | None, object]] = []
    if standard.has_baseline:
        facts += [
            ("Baseline file", standard.baseline_name),
            ("Baseline file SHA-256", standard.baseline_sha256),
            ("Required patches overdue", kpis.overdue),
            ("Servers with overdue patches", kpis.overdue_servers),
            ("Required patches due", kpis.due),
        ]
    else:
        facts.append(("Compliant means", "the latest attempt of every patch that ran succeeded"))
    if standard.has_exceptions:
        facts += [
            ("Exceptions file", standard.exceptions_name),
            ("Exceptions file SHA-256", standard.exceptions_sha256),
        ]
    if standard.reference_date is not None:
        facts.append((f"Deadlines judged at ({model.meta.timezone})", standard.reference_date))
    return facts


def write_standard_rules(sheet: Any, styles: Any, model: ReportModel, row: int) -> int:
    """The Definitions sheet's rules of the standard and its SLA table, from ``row`` on (with a
    baseline); the last row written."""
    if not model.standard.has_baseline:
        return row
    row += 2
    sheet.write_string(row, 0, "Measuring against a standard", styles.section)
    for rule in STANDARD_RULES:
        row += 1
        sheet.write_string(row, 0, rule)
    row += 1
    sheet.write_row(row, 0, ["Severity", "SLA days"], styles.header)
    for severity, days in model.standard.sla_days.items():
        row += 1
        sheet.write_row(row, 0, [severity or "no severity", days])
    return row
