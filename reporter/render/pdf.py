"""The PDF report for auditors (WeasyPrint): archival PDF/A-3u with its data attached.

The PDF is bounded by the fleet, not by the number of patch attempts: failures are summarised
per patch and per server, and the full patch detail is an appendix only on request
(``detail="all"``). A long appendix is laid out in chunks, in parallel where the platform
allows (see :mod:`reporter.render.pdf_appendix`). Every cell's text is cut at
``CELL_TEXT_LIMIT`` characters, so no payload can make a page slow to lay out.

WeasyPrint fetches nothing but the packaged assets (see :mod:`reporter.render.pdf_engine`).
"""

from pathlib import Path

import pandas as pd
from weasyprint import Attachment

from reporter.errors import RenderError, UsageError
from reporter.fileio import atomic_write
from reporter.model import NON_COMPLIANT, ReportModel
from reporter.render.csv import frame_to_csv_bytes
from reporter.render.history_tables import history_tables
from reporter.render.pdf_appendix import render_with_appendix
from reporter.render.pdf_engine import AssetFetcher, html_to_pdf
from reporter.render.templating import render_template
from reporter.render.view import (
    SUMMARY_ROWS,
    Column,
    Table,
    build_view,
    capped,
    completeness_table,
    failure_summary_table,
    hresults_table,
    kb_rollup_table,
    problems_table,
    records,
    template_context,
)

PAGE_SIZES = {"a4": "A4", "letter": "Letter"}
VARIANTS = {"pdf/a-3u": "pdf/a-3u", "none": None}
DETAILS = ("none", "all")
ATTACHED_FAILURES = 100_000  # rows of failed-patches.csv; more are in the CSV report
EXECUTION_ROWS = 500  # executions needing attention listed in the PDF
PARALLEL_ROWS = 1000  # from this many appendix rows on, lay the appendix out in chunks


def attributes_text(model: ReportModel, frame: pd.DataFrame) -> pd.Series:
    """The inventory attributes of each row as one line (``owner: a · environment: b``)."""
    parts = [
        name + ": " + frame[name].astype("string").fillna("—")
        for name in model.attribute_columns
        if name in frame.columns
    ]
    if not parts:
        return pd.Series("", index=frame.index, dtype="string")
    text = parts[0]
    for part in parts[1:]:
        text = text + " · " + part
    return text


def with_attributes_text(model: ReportModel, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with an ``attributes`` column, one line of text, for the PDF's narrow tables."""
    frame = frame.copy()
    frame["attributes"] = attributes_text(model, frame)
    return frame


APPENDIX_COLUMNS = [
    Column("server_id", "Server", width="15%"),
    Column("execution_id", "Execution", width="11%"),
    Column("patch_seq", "#", "number", width="4%"),
    Column("title", "Patch", width="36%"),
    Column("result", "Result", width="11%"),
    Column("hresult", "HRESULT", width="11%"),
    Column("patch_start", "Start (UTC)", "time", width="12%"),
]


def pdf_tables(model: ReportModel, detail_limit: int | None) -> dict[str, Table]:
    """The PDF's tables: one row per server or per KB at most, never one per attempt."""
    servers = with_attributes_text(model, model.servers)
    attributes = (
        [Column("attributes", "Attributes", width="18%")] if model.attribute_columns else []
    )
    narrow = 0 if attributes else 9  # extra width for the reason when there are no attributes
    failing = servers[servers["failed"].fillna(0) > 0].sort_values(
        ["failed", "server_id"], ascending=[False, True]
    )
    executions = model.executions
    attention = (
        (executions["status"].astype("string") != "completed")
        | (executions["failed"].fillna(0) > 0)
        | (executions["in_progress"].fillna(0) > 0)
        | (executions["issues"].astype("string").fillna("") != "")
    )
    detail = model.patches if detail_limit else model.patches.iloc[0:0]
    return {
        "non-compliant": Table(
            "non-compliant",
            [
                Column("server_id", "Server", width="15%", sub="account_alias"),
                Column("reason", "Reason", width=f"{24 + narrow}%"),
                Column("failed", "Failed", "number", width="7%"),
                Column("failed_kbs", "Still failing", width="20%"),
                Column(
                    "latest_execution_id",
                    "Latest execution",
                    width="16%",
                    sub="latest_execution_start",
                    sub_kind="time",
                ),
                *attributes,
            ],
            records(servers[servers["compliance"] == NON_COMPLIANT]),
            0,
            empty="No server is non-compliant.",
        ),
        "failure-summary": failure_summary_table(
            model, "patch and error combinations, most servers first."
        ),
        "failures-by-server": capped(
            "failures-by-server",
            [
                Column("server_id", "Server", width="18%", sub="account_alias"),
                Column("compliance", "Status", "status", width="14%"),
                Column("failed", "Failed attempts", "number", width="12%"),
                Column("failed_kbs", "Still failing", width="56%"),
            ],
            failing,
            SUMMARY_ROWS,
            "servers with failed attempts, most failures first.",
            empty="No server had a failed attempt.",
        ),
        "kb-rollup": kb_rollup_table(model),
        "servers": Table(
            "servers",
            [
                Column("server_id", "Server", width="15%", sub="account_alias"),
                Column("compliance", "Status", "status", width="12%"),
                Column("reason", "Reason", width=f"{22 + narrow}%"),
                Column("patches_attempted", "Attempted", "number", width="9%"),
                Column("failed", "Failed", "number", width="7%"),
                Column(
                    "latest_execution_id",
                    "Latest execution",
                    width="17%",
                    sub="latest_execution_start",
                    sub_kind="time",
                ),
                *attributes,
            ],
            records(servers),
            0,
            empty="The inventory lists no server.",
        ),
        "executions": capped(
            "executions",
            [
                Column("execution_id", "Execution", width="15%", sub="server_id"),
                Column("status", "Status", "status", width="11%"),
                Column(
                    "start",
                    "Start (UTC)",
                    "time",
                    width="14%",
                    sub="duration_s",
                    sub_kind="duration",
                ),
                Column("patch_count", "Patches", "number", width="8%"),
                Column("succeeded", "Succeeded", "number", width="9%"),
                Column("failed", "Failed", "number", width="7%"),
                Column("issues", "Issues", width="36%"),
            ],
            executions[attention],
            EXECUTION_ROWS,
            "executions needing attention; every execution is in the Excel report.",
            empty="Every execution completed with no failed or pending patch.",
        ),
        "completeness": completeness_table(model),
        "problems": problems_table(model),
        "patch-detail": Table(
            "patch-detail", APPENDIX_COLUMNS, records(detail), len(detail), css="appendix"
        ),
        "hresults": hresults_table(model),
        **history_tables(model),
    }


def pdf_attachments(model: ReportModel, manifest_path: Path | None) -> list[Attachment]:
    """The data files carried inside the PDF: servers, failed attempts, evidence manifest."""
    created = model.meta.generated_at.replace(tzinfo=None)
    failed = model.failed.head(ATTACHED_FAILURES)
    files = [
        ("servers.csv", frame_to_csv_bytes(model.servers), "Every server with its status", "Data"),
        (
            "failed-patches.csv",
            frame_to_csv_bytes(failed),
            "Failed patch attempts"
            + (" (first 100,000)" if len(model.failed) > len(failed) else ""),
            "Data",
        ),
    ]
    if manifest_path is not None:
        try:
            manifest = Path(manifest_path).read_bytes()
        except OSError as error:
            raise RenderError(
                f"cannot attach the evidence manifest {manifest_path}: {error}"
            ) from error
        files.append(
            (
                "manifest.json",
                manifest,
                "Evidence manifest: every API response's SHA-256",
                "Supplement",
            )
        )
    return [
        Attachment(
            string=data,
            name=name,
            description=description,
            created=created,
            modified=created,
            relationship=relationship,
        )
        for name, data, description, relationship in files
    ]


def failed_note(model: ReportModel, attached: bool) -> str:
    """Where the full list of failed attempts is."""
    total = len(model.failed)
    where = "in the CSV and Excel reports"
    if not attached:
        return f"All {total:,} failed attempts are listed {where}."
    if total > ATTACHED_FAILURES:
        return (
            f"The first {ATTACHED_FAILURES:,} of the {total:,} failed attempts are attached to "
            f"this PDF as failed-patches.csv; all of them are {where}."
        )
    return (
        f"All {total:,} failed attempts are attached to this PDF as failed-patches.csv and {where}."
    )


def render_pdf(
    model: ReportModel,
    path: Path,
    *,
    page_size: str = "A4",
    detail: str = "none",
    variant: str = "pdf/a-3u",
    manifest_path: Path | None = None,
) -> Path:
    """Write the PDF report of ``model`` to ``path`` (whole or not at all) and return ``path``.

    Args:
        model: the report model.
        path: where to write the ``.pdf`` file.
        page_size: ``"A4"`` or ``"Letter"``.
        detail: ``"none"`` (failures summarised) or ``"all"`` (every attempt, as an appendix).
        variant: ``"pdf/a-3u"`` (archival, with the servers, failed attempts and evidence
            manifest attached) or ``"none"`` (a plain PDF without attachments).
        manifest_path: the evidence ``manifest.json`` to attach, if any.

    Raises:
        UsageError: an option has a value not listed above.
        RenderError: the PDF could not be produced.
    """
    size = PAGE_SIZES.get(str(page_size).lower())
    if size is None:
        raise UsageError(f"PDF page size must be A4 or Letter, not {page_size!r}")
    if detail not in DETAILS:
        raise UsageError(f"PDF detail must be 'none' or 'all', not {detail!r}")
    if variant not in VARIANTS:
        raise UsageError(f"PDF variant must be 'pdf/a-3u' or 'none', not {variant!r}")
    pdf_variant = VARIANTS[variant]
    attachments = pdf_attachments(model, manifest_path) if pdf_variant else []
    rows = len(model.patches) if detail == "all" else 0
    parallel = rows >= PARALLEL_ROWS
    view = build_view(
        model,
        medium="pdf",
        detail_limit=rows if rows and not parallel else 0,
        table_factory=pdf_tables,
    )
    context = template_context(
        view,
        page_size=size,
        page_numbers=not parallel,
        failed_note=failed_note(model, bool(pdf_variant)),
        appendix_pending=parallel,
    )
    fetcher = AssetFetcher()
    body = render_template("report.html.j2", **context)

    def render_body() -> bytes:
        return html_to_pdf(body, fetcher, pdf_variant, attachments=attachments)

    try:
        if parallel:
            keys = {c.key for c in APPENDIX_COLUMNS} | {c.sub for c in APPENDIX_COLUMNS if c.sub}
            chunk_context = {
                k: context[k]
                for k in (
                    "meta",
                    "medium",
                    "period_label",
                    "description",
                    "keywords",
                    "created",
                    "page_size",
                )
            }
            chunk_context["page_numbers"] = False
            pdf, refused = render_with_appendix(
                render_body,
                chunk_context,
                APPENDIX_COLUMNS,
                records(model.patches[[k for k in model.patches.columns if k in keys]]),
                size,
            )
            fetcher.refused.extend(refused)
        else:
            pdf = render_body()
    except (OSError, RuntimeError, ValueError) as error:
        raise RenderError(f"cannot render the PDF report: {error}") from error
    with atomic_write(Path(path)) as handle:
        handle.write(pdf)
    return Path(path)
