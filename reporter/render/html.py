"""The HTML report: one self-contained file (inline CSS, inline SVG, a small sort/filter script).

The page loads nothing from anywhere: a Content-Security-Policy allows only its own inline
style and script, and every value from the data is escaped by the template engine.
"""

from pathlib import Path

from reporter.fileio import atomic_write
from reporter.model import NON_COMPLIANT, ReportModel
from reporter.render.history_tables import history_tables
from reporter.render.table import Column, Table, records
from reporter.render.templating import render_template
from reporter.render.view import (
    build_view,
    capped,
    columns_with,
    completeness_table,
    failure_summary_table,
    hresults_table,
    patch_rollup_table,
    problems_table,
    server_columns,
    template_context,
    zoned,
)

FULL_LIST = "the full list is in the CSV and Excel reports."


def html_tables(model: ReportModel, detail_limit: int | None) -> dict[str, Table]:
    """The tables of the HTML report: full lists, long ones capped at ``detail_limit`` rows."""
    servers = model.servers
    server = server_columns(model)
    non_compliant = servers[servers["compliance"] == NON_COMPLIANT]
    return {
        "non-compliant": Table(
            "non-compliant",
            columns_with(
                [
                    *server,
                    Column("reason", "Reason"),
                    Column("failed", "Failed attempts", "number"),
                    Column("latest_execution_id", "Latest execution", "id"),
                    Column("latest_execution_start", zoned("Started", model), "time"),
                ],
                model,
            ),
            records(non_compliant),
            len(non_compliant),
            empty="No server is non-compliant.",
        ),
        "failure-summary": failure_summary_table(
            model, "patch and error combinations; every failed attempt is listed below."
        ),
        "failed": capped(
            "failed",
            [
                *server,
                Column("execution_id", "Execution", "id"),
                Column("title", "Patch", sub="kb"),
                Column("result", "Result", sub="result_meaning"),
                Column("hresult", "HRESULT", "code", sub="hresult_name"),
                Column("hresult_meaning", "Error meaning"),
                Column("patch_end", zoned("Ended", model), "time"),
                Column("still_failing", "Still failing", "yes_no"),
            ],
            model.failed,
            detail_limit,
            f"failed attempts; {FULL_LIST}",
            empty="No patch failed.",
        ),
        "patch-rollup": patch_rollup_table(model),
        "servers": Table(
            "servers",
            columns_with(
                [
                    *server,
                    Column("compliance", "Status", "status"),
                    Column("reason", "Reason"),
                    Column("executions", "Executions", "number"),
                    Column("patches_attempted", "Attempted", "number"),
                    Column("succeeded", "Succeeded", "number"),
                    Column("warnings", "Warnings", "number"),
                    Column("failed", "Failed", "number"),
                    Column("latest_execution_id", "Latest execution", "id"),
                    Column("latest_execution_start", zoned("Started", model), "time"),
                    Column("last_success", zoned("Last success", model), "time"),
                ],
                model,
            ),
            records(servers),
            len(servers),
            empty="The inventory lists no server.",
        ),
        "executions": capped(
            "executions",
            [
                Column("execution_id", "Execution", "id"),
                *server,
                Column("status", "Status", "status"),
                Column("start", zoned("Start", model), "time"),
                Column("end", zoned("End", model), "time"),
                Column("duration_s", "Duration", "duration"),
                Column("patch_count", "Patches", "number"),
                Column("succeeded", "Succeeded", "number"),
                Column("warnings", "Warnings", "number"),
                Column("failed", "Failed", "number"),
                Column("in_progress", "In progress", "number"),
                Column("issues", "Issues"),
            ],
            model.executions,
            detail_limit,
            "executions; the full list is in the Excel report.",
            empty="No execution is in the figures.",
        ),
        "completeness": completeness_table(model),
        "problems": problems_table(model),
        "patch-detail": capped(
            "patch-detail",
            [
                *server,
                Column("execution_id", "Execution", "id"),
                Column("patch_seq", "#", "number"),
                Column("title", "Patch", sub="kb"),
                Column("classification", "Classification"),
                Column("outcome", "Outcome", "status"),
                Column("result", "Result", sub="result_code", sub_kind="number"),
                Column("hresult", "HRESULT", "code", sub="hresult_name"),
                Column("patch_start", zoned("Start", model), "time"),
                Column("duration_s", "Duration", "duration"),
            ],
            model.patches,
            detail_limit,
            f"patch attempts; {FULL_LIST}",
            empty="No patch attempts in the figures.",
        ),
        "hresults": hresults_table(model),
        **history_tables(model),
    }


def render_html(model: ReportModel, path: Path, *, detail_limit: int = 2000) -> Path:
    """Write the HTML report of ``model`` to ``path`` (whole or not at all) and return ``path``.

    Args:
        model: the report model.
        path: where to write the ``.html`` file.
        detail_limit: the most rows of the patch detail, failed-attempt and execution lists;
            the page says how many more there are and where to find them.
    """
    view = build_view(model, medium="html", detail_limit=detail_limit, table_factory=html_tables)
    page = render_template("report.html.j2", **template_context(view))
    with atomic_write(Path(path), "w", encoding="utf-8", newline="\n") as handle:
        handle.write(page)
    return Path(path)
