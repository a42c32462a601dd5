"""The PDF report for auditors (WeasyPrint): archival PDF/A-3u with its data attached.

The PDF is bounded by the fleet, not by the number of patch attempts: failures are summarised
per patch and per server, and the full patch detail is an appendix only on request
(``detail="all"``). A long appendix is laid out in chunks, in parallel where the platform
allows (see :mod:`reporter.render.pdf_appendix`). Every cell's text is cut at
``CELL_TEXT_LIMIT`` characters, so no payload can make a page slow to lay out.

WeasyPrint fetches nothing but the packaged assets (see :mod:`reporter.render.pdf_engine`).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from weasyprint import Attachment

from reporter.errors import RenderError, UsageError
from reporter.fileio import atomic_write
from reporter.model import NON_COMPLIANT, ReportModel
from reporter.render.csv import frame_to_csv_bytes
from reporter.render.history_tables import history_tables
from reporter.render.pdf_appendix import render_with_appendix
from reporter.render.pdf_engine import AssetFetcher, html_to_pdf
from reporter.render.progress import StageProgress, weasyprint_steps
from reporter.render.standard_tables import standard_tables
from reporter.render.table import Column, Table, records
from reporter.render.templating import render_template
from reporter.render.view import (
    SUMMARY_ROWS,
    attribute_columns,
    build_view,
    capped,
    completeness_table,
    failure_summary_table,
    hresults_table,
    patch_rollup_table,
    problems_table,
    server_columns,
    template_context,
    zoned,
)
from reporter.schema import (
    COMPLIANT,
    COMPLIANT_EXCEPTED,
    IN_PROGRESS,
    NO_DATA,
    REBOOT_PENDING,
    as_text,
)

PAGE_SIZES = {"a4": "A4", "letter": "Letter"}
VARIANTS = {"pdf/a-3u": "pdf/a-3u", "none": None}
DETAILS = ("none", "all")
ATTACHED_FAILURES = 100_000  # rows of failed-patches.csv; more are in the CSV report
EXECUTION_ROWS = 500  # executions needing attention listed in the PDF
# Servers listed in each server table of the PDF (non-compliant, all servers): a 2,500-server
# month is listed whole; beyond it the most serious come first, and the attached servers.csv,
# the workbook and the CSV hold every one. It keeps a 25,000-server PDF to a few hundred pages.
SERVER_ROWS = 2_500
# The order in which a capped server table lists statuses: what needs attention first.
ATTENTION_ORDER = [
    NON_COMPLIANT,
    NO_DATA,
    IN_PROGRESS,
    REBOOT_PENDING,
    COMPLIANT_EXCEPTED,
    COMPLIANT,
]
PARALLEL_ROWS = 1000  # from this many appendix rows on, lay the appendix out in chunks
# Sections whose tables are laid out on landscape pages: a server or a patch per line (or two)
# needs the width.
WIDE_SECTIONS = {"non-compliant", "failed", "patch-rollup", "servers", "executions"}
# Widths of the columns whose content has a known length; text columns share the rest.
ID_WIDTH, SERVER_WIDTH, TIME_WIDTH, STATUS_WIDTH = "24mm", "30mm", "25mm", "23mm"
CHAR_MM = 1.4  # the average width of a 6.8 pt character (capitals and digits are wider)
ATTRIBUTE_CHARS = (6, 24)  # an attribute column holds this many characters a line, at least/most


@dataclass(frozen=True)
class AttachedFile:
    """A file carried inside the archival PDF, as its Methodology lists it."""

    name: str
    data: bytes
    description: str
    relationship: str  # PDF/A-3's AFRelationship: Data, Supplement, Source, ...

    @property
    def size(self) -> int:
        """Its size in bytes."""
        return len(self.data)

    @property
    def sha256(self) -> str:
        """The SHA-256 of its bytes, in hex."""
        return hashlib.sha256(self.data).hexdigest()


APPENDIX_COLUMNS = [
    Column("server_id", "Server", "id", width="15%"),
    Column("execution_id", "Execution", "id", width="11%"),
    Column("patch_seq", "#", "number", width="4%"),
    Column("title", "Patch", width="36%"),
    Column("result", "Result", width="11%"),
    Column("hresult", "HRESULT", width="11%"),
    Column("patch_start", "Start", "time", width="12%"),
]


def appendix_columns(model: ReportModel) -> list[Column]:
    """The patch-detail appendix's columns, the start time headed with its zone."""
    return [
        Column(c.key, zoned(c.label, model), c.kind, c.width) if c.kind == "time" else c
        for c in APPENDIX_COLUMNS
    ]


def fitted_attributes(model: ReportModel) -> list[Column]:
    """The attribute columns shown, each as wide as its header and longest value need (within
    :data:`ATTRIBUTE_CHARS`), so that the reason column keeps the rest of the line."""
    columns = []
    for column in attribute_columns(model):
        values = as_text(model.servers[column.key].dropna()).unique()
        longest = max([len(column.label), *(len(value) for value in values)])
        chars = min(max(longest, ATTRIBUTE_CHARS[0]), ATTRIBUTE_CHARS[1])
        columns.append(
            Column(column.key, column.label, column.kind, f"{chars * CHAR_MM + 3:.0f}mm")
        )
    return columns


def pdf_tables(model: ReportModel, detail_limit: int | None) -> dict[str, Table]:
    """The PDF's tables: one row per server or per KB at most, never one per attempt.

    Each row is meant to fit one line: identifiers and times get the width they need, the
    inventory attributes are columns of their own, and the wide tables get landscape pages.
    """
    servers = model.servers
    server = server_columns(model, width=SERVER_WIDTH)
    attributes = fitted_attributes(model)
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
    latest = [
        Column("latest_execution_id", "Latest execution", "id", width=ID_WIDTH),
        Column("latest_execution_start", zoned("Started", model), "time", width=TIME_WIDTH),
    ]
    return {
        "non-compliant": capped(
            "non-compliant",
            [
                *server,
                Column("reason", "Reason"),
                Column("failed", "Failed", "number", width="12mm"),
                *latest,
                *attributes,
            ],
            most_serious_first(servers[servers["compliance"] == NON_COMPLIANT], SERVER_ROWS),
            SERVER_ROWS,
            "non-compliant servers, most failed attempts first; every one is in the attached "
            "servers.csv and in the Excel and CSV reports.",
            empty="No server is non-compliant.",
        ),
        "failure-summary": failure_summary_table(
            model, "patch and error combinations, most servers first."
        ),
        "failures-by-server": capped(
            "failures-by-server",
            [
                *server,
                Column("compliance", "Status", "status", width=STATUS_WIDTH),
                Column("failed", "Failed attempts", "number", width="18mm"),
                Column("failed_kbs", "Still failing"),
            ],
            failing,
            SUMMARY_ROWS,
            "servers with failed attempts, most failures first.",
            empty="No server had a failed attempt.",
        ),
        "patch-rollup": patch_rollup_table(model),
        "servers": capped(
            "servers",
            [
                *server,
                Column("compliance", "Status", "status", width=STATUS_WIDTH),
                Column("reason", "Reason"),
                Column("patches_attempted", "Attempted", "number", width="15mm"),
                Column("failed", "Failed", "number", width="11mm"),
                *latest,
                *attributes,
            ],
            most_serious_first(servers, SERVER_ROWS),
            SERVER_ROWS,
            "servers, those needing attention first; every one is in the attached servers.csv "
            "and in the Excel and CSV reports.",
            empty="The inventory lists no server.",
        ),
        "executions": capped(
            "executions",
            [
                Column("execution_id", "Execution", "id", width=ID_WIDTH),
                *server,
                Column("status", "Status", "status", width=STATUS_WIDTH),
                Column("start", zoned("Start", model), "time", width=TIME_WIDTH),
                Column("duration_s", "Duration", "duration", width="16mm"),
                Column("patch_count", "Patches", "number", width="13mm"),
                Column("succeeded", "Succeeded", "number", width="15mm"),
                Column("failed", "Failed", "number", width="11mm"),
                Column("issues", "Issues"),
            ],
            executions[attention],
            EXECUTION_ROWS,
            "executions needing attention; every execution is in the Excel report.",
            empty="Every execution completed with no failed or pending patch.",
        ),
        "completeness": completeness_table(model),
        "problems": problems_table(model),
        "patch-detail": Table(
            "patch-detail", appendix_columns(model), records(detail), len(detail), css="appendix"
        ),
        "hresults": hresults_table(model),
        **history_tables(model),
        **standard_tables(model),
    }


def most_serious_first(servers: pd.DataFrame, limit: int) -> pd.DataFrame:
    """``servers`` in their own order when all fit in ``limit`` rows; else by status (see
    :data:`ATTENTION_ORDER`), then most failed attempts, then server, so that a capped table
    lists what needs attention."""
    if len(servers) <= limit:
        return servers
    rank = as_text(servers["compliance"]).map({s: n for n, s in enumerate(ATTENTION_ORDER)})
    order = pd.DataFrame(
        {
            "rank": rank.fillna(len(ATTENTION_ORDER)).to_numpy(),
            "failed": servers["failed"].fillna(0).to_numpy(),
            "server": as_text(servers["server_id"]).to_numpy(),
        }
    ).sort_values(["rank", "failed", "server"], ascending=[True, False, True], kind="stable")
    return servers.iloc[order.index.to_numpy()]


def attached_files(model: ReportModel, manifest_path: Path | None) -> list[AttachedFile]:
    """The data files carried inside the PDF: servers, failed attempts, evidence manifest."""
    failed = model.failed.head(ATTACHED_FAILURES)
    files = [
        AttachedFile(
            "servers.csv",
            frame_to_csv_bytes(model.servers),
            "Every server with its status",
            "Data",
        ),
        AttachedFile(
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
            AttachedFile(
                "manifest.json",
                manifest,
                "Evidence manifest: every API response's SHA-256",
                "Supplement",
            )
        )
    return files


def pdf_attachments(model: ReportModel, files: list[AttachedFile]) -> list[Attachment]:
    """``files`` as WeasyPrint attachments, dated when the report was generated."""
    created = model.meta.generated_at.replace(tzinfo=None)
    return [
        Attachment(
            string=file.data,
            name=file.name,
            description=file.description,
            created=created,
            modified=created,
            relationship=file.relationship,
        )
        for file in files
    ]


def show_attachments(document: object, pdf: Any) -> None:
    """A WeasyPrint finisher: the PDF (a ``pydyf.PDF``) opens with its attachments panel shown."""
    pdf.catalog["PageMode"] = "/UseAttachments"


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
    finish: Callable[[bytes], bytes] | None = None,
    progress: StageProgress | None = None,
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
        finish: applied to the finished PDF's bytes before they are written (the signature:
            :meth:`reporter.signature.SigningKey.sign`).
        progress: where to say what the stage is doing (on a terminal), if anywhere.

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
    if progress is not None:
        progress.step("preparing the tables")
    files = attached_files(model, manifest_path) if pdf_variant else []
    rows = len(model.patches) if detail == "all" else 0
    parallel = rows >= PARALLEL_ROWS
    view = build_view(
        model,
        medium="pdf",
        detail_limit=rows if rows and not parallel else 0,
        table_factory=pdf_tables,
        wide=WIDE_SECTIONS,
    )
    if not rows:  # no page only to say the appendix is left out: the Methodology says so
        view.sections = [(key, title) for key, title in view.sections if key != "patch-detail"]
    context = template_context(
        view,
        page_size=size,
        page_numbers=not parallel,
        failed_note=failed_note(model, bool(pdf_variant)),
        appendix_pending=parallel,
        attachments=files,
    )
    fetcher = AssetFetcher()
    body = render_template("report.html.j2", **context)
    options: dict[str, Any] = {}
    if files:
        options = {"attachments": pdf_attachments(model, files), "finisher": show_attachments}

    def render_body() -> bytes:
        with weasyprint_steps(progress, "the report"):
            return html_to_pdf(body, fetcher, pdf_variant, **options)

    try:
        if parallel:
            columns = appendix_columns(model)
            keys = {c.key for c in columns} | {c.sub for c in columns if c.sub}
            chunk_context = {
                k: context[k]
                for k in (
                    "meta",
                    "medium",
                    "timezone",
                    "period_label",
                    "footer",
                    "description",
                    "keywords",
                    "created",
                    "page_size",
                )
            }
            chunk_context["page_numbers"] = False
            chunk_context["appendix_part"] = True
            pdf, refused = render_with_appendix(
                render_body,
                chunk_context,
                columns,
                records(model.patches[[k for k in model.patches.columns if k in keys]]),
                size,
                progress,
            )
            fetcher.refused.extend(refused)
        else:
            pdf = render_body()
    except (OSError, RuntimeError, ValueError) as error:
        raise RenderError(f"cannot render the PDF report: {error}") from error
    if finish is not None:
        if progress is not None:
            progress.step("signing")
        pdf = finish(pdf)
    with atomic_write(Path(path)) as handle:
        handle.write(pdf)
    return Path(path)
