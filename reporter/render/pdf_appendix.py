"""A long patch-detail appendix laid out in parallel, then merged into the report's PDF.

WeasyPrint lays out about 150 table rows a second on one core, and its documents cannot cross
process boundaries. So the appendix is cut into chunks that worker processes render to PDF
bytes while this process renders the body of the report; pypdf then appends the chunks' pages
to the body (keeping its outline, metadata, output intent and attachments) and writes
"Page X of Y" on every page from one small stamp document, since no part knows the total
while it is being laid out.
"""

import io
import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

from reporter.render.templating import asset_text, render_template
from reporter.render.view import Column, Table

WORKERS = 2
CHUNK_ROWS = 1500  # big enough to amortise a document's set-up, small enough to balance


def chunked(rows: Sequence[dict[str, Any]], workers: int = WORKERS) -> list[Sequence[dict]]:
    """Cut ``rows`` into at least ``workers`` nearly equal chunks of at most ~CHUNK_ROWS."""
    count = max(workers, math.ceil(len(rows) / CHUNK_ROWS))
    size = math.ceil(len(rows) / count) or 1
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def render_chunk(
    context: dict[str, Any], columns: list[Column], rows: Sequence[dict]
) -> tuple[bytes, list[str]]:
    """Render one chunk of appendix rows to PDF bytes (runs in a worker process).

    Returns the PDF and the URLs its fetcher refused (none, unless something is wrong).
    """
    from reporter.render.pdf import AssetFetcher, html_to_pdf  # the worker's own imports

    table = Table("patch-detail", columns, list(rows), len(rows), css="appendix")
    page = render_template("appendix.html.j2", table=table, **context)
    fetcher = AssetFetcher()
    return html_to_pdf(page, fetcher, None), fetcher.refused


def render_with_appendix(
    body: Any,
    context: dict[str, Any],
    columns: list[Column],
    rows: Sequence[dict[str, Any]],
    page_size: str,
) -> tuple[bytes, list[str]]:
    """Render the report body (``body()`` -> PDF bytes) and the appendix rows side by side.

    Args:
        body: a function rendering the report's body in this process, returning PDF bytes.
        context: the template context for the appendix chunks (picklable values only).
        columns: the appendix table's columns.
        rows: the appendix rows.
        page_size: the CSS page size, for the page-number stamps.

    Returns:
        The merged PDF and the URLs the workers' fetchers refused.
    """
    # fork: the workers inherit the loaded fonts and templates instead of importing again.
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(render_chunk, context, columns, part) for part in chunked(rows)]
        main = body()
        chunks = [future.result() for future in futures]
    writer = PdfWriter(clone_from=io.BytesIO(main))
    producer = writer.metadata.get("/Producer") if writer.metadata else None
    for pdf, _ in chunks:
        for page in PdfReader(io.BytesIO(pdf)).pages:
            writer.add_page(page)
    stamp_page_numbers(writer, page_size)
    if producer:  # the XMP metadata names WeasyPrint; the document information must agree
        writer.add_metadata({"/Producer": producer})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), [url for _, refused in chunks for url in refused]


def stamp_page_numbers(writer: PdfWriter, page_size: str) -> None:
    """Write "Page X of Y" in the footer of every page, as the one-piece PDF does.

    The numbers come from a document of empty pages whose footer is laid out by WeasyPrint
    with the report's own style; each of its pages becomes a form drawn over the matching
    page, without rewriting (or even reading) the pages' own content.
    """
    from reporter.render.pdf import AssetFetcher, html_to_pdf

    total = len(writer.pages)
    style = f"{asset_text('stamp.css')}\n@page {{ size: {page_size}; }}"
    pages = '<div class="p"></div>' * total
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><style>{style}</style>'
        f"</head><body>{pages}</body></html>"
    )
    stamps = PdfReader(io.BytesIO(html_to_pdf(page, AssetFetcher(), None)))
    if len(stamps.pages) != total:
        raise RuntimeError(f"page-number stamps: {len(stamps.pages)} pages for {total}")
    save = writer._add_object(_stream(b"q\n"))  # pypdf has no public way to add a stream
    for number, (target, stamp) in enumerate(zip(writer.pages, stamps.pages, strict=True)):
        form = _stream(stamp.get_contents().get_data())
        form.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Form"),
                NameObject("/BBox"): stamp.mediabox,
                NameObject("/Resources"): stamp["/Resources"].clone(writer),
            }
        )
        name = NameObject(f"/ReporterPage{number + 1}")
        resources = target["/Resources"].get_object()
        if "/XObject" not in resources:
            resources[NameObject("/XObject")] = DictionaryObject()
        resources["/XObject"].get_object()[name] = writer._add_object(form)
        draw = writer._add_object(_stream(f"\nQ q {name} Do Q\n".encode("ascii")))
        contents = target["/Contents"]
        parts = (
            list(contents.get_object()) if isinstance(contents.get_object(), list) else [contents]
        )
        target[NameObject("/Contents")] = ArrayObject([save, *parts, draw])


def _stream(data: bytes) -> DecodedStreamObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    return stream
