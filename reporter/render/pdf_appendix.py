"""A long patch-detail appendix laid out in chunks, in parallel where it can be, then merged.

WeasyPrint lays out about 150 table rows a second on one core, and its documents cannot cross
process boundaries. So the appendix is cut into chunks that worker processes render to PDF
bytes while this process renders the body of the report; pypdf then appends the chunks' pages
to the body (keeping its outline, metadata, output intent and attachments) and writes
"Page X of Y" on every page from one small stamp document, since no part knows the total
while it is being laid out.

The workers are forked, so that they inherit the loaded fonts and templates instead of
importing them again. Where forking is not possible (Windows) or not safe (macOS), where one
CPU is all there is, or when the pool fails (a worker killed, no process to be had), the
chunks are laid out one after the other in this process: slower, the same PDF.
"""

import io
import logging
import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pypdf import PdfReader, PdfWriter

from reporter.render.pdf_engine import REFUSED_URLS, AssetFetcher, html_to_pdf
from reporter.render.progress import StageProgress
from reporter.render.table import Column, Table
from reporter.render.templating import asset_text, render_template

log = logging.getLogger("reporter.render")

WORKERS = 2  # worker processes at most
APPENDIX_CHUNK_ROWS = 1500  # enough to amortise a document's set-up, few enough to balance

# One laid-out chunk: its PDF and the URLs its fetcher refused (none, unless something is wrong).
Chunk = tuple[bytes, list[str]]
# What makes the pool unusable, as opposed to an error in the rendering itself.
POOL_FAILURES = (BrokenProcessPool, OSError)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def pool_workers() -> int:
    """How many worker processes may lay out the appendix: 0 for none.

    None where ``fork`` is missing (Windows) or unsafe (macOS, whose system frameworks may
    crash a forked child), and none with a single usable CPU, where a pool only adds work.
    """
    if sys.platform == "darwin" or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    cpus = usable_cpus()
    return min(WORKERS, cpus) if cpus > 1 else 0


def chunked(rows: Sequence[dict[str, Any]], workers: int = WORKERS) -> list[Sequence[dict]]:
    """Cut ``rows`` into at least ``workers`` nearly equal chunks of APPENDIX_CHUNK_ROWS or so."""
    count = max(workers, math.ceil(len(rows) / APPENDIX_CHUNK_ROWS))
    size = math.ceil(len(rows) / count) or 1
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def render_chunk(context: dict[str, Any], columns: list[Column], rows: Sequence[dict]) -> Chunk:
    """Render one chunk of appendix rows to PDF bytes (in a worker process, or here).

    Returns the PDF and the URLs its fetcher refused (none, unless something is wrong).
    """
    table = Table("patch-detail", columns, list(rows), len(rows), css="appendix")
    page = render_template("appendix.html.j2", table=table, **context)
    fetcher = AssetFetcher()
    return html_to_pdf(page, fetcher, None), fetcher.refused


def render_with_appendix(
    body: Callable[[], bytes],
    context: dict[str, Any],
    columns: list[Column],
    rows: Sequence[dict[str, Any]],
    page_size: str,
    progress: StageProgress | None = None,
) -> tuple[bytes, list[str]]:
    """Render the report body (``body()`` -> PDF bytes) and the appendix rows, then merge them.

    Args:
        body: a function rendering the report's body in this process, returning PDF bytes.
        context: the template context for the appendix chunks (picklable values only).
        columns: the appendix table's columns.
        rows: the appendix rows.
        page_size: the CSS page size, for the page-number stamps.
        progress: where to say which part is being laid out (on a terminal), if anywhere.

    Returns:
        The merged PDF and the URLs the chunks' fetchers refused.
    """
    workers = pool_workers()
    parts = chunked(rows, max(workers, 1))
    chunks: list[Chunk | None] = [None] * len(parts)
    if progress is not None:
        where = f"in {workers} worker processes" if workers else "after the body"
        progress.step(f"laying out the body here and {len(parts)} appendix parts {where}")
    if workers:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = submit_chunks(pool, context, columns, parts)
            main = body()
            collect_chunks(futures, chunks)
    else:
        main = body()
    laid_out: list[Chunk] = []
    for number, (chunk, part) in enumerate(zip(chunks, parts, strict=True), start=1):
        if chunk is None and progress is not None:
            progress.step(f"laying out appendix part {number}/{len(parts)}")
        laid_out.append(chunk if chunk is not None else render_chunk(context, columns, part))
    if progress is not None:
        progress.step(f"merging {len(parts) + 1} parts and numbering the pages")
    return merge(main, [pdf for pdf, _ in laid_out], page_size), [
        url for _, refused in laid_out for url in refused
    ]


def submit_chunks(
    pool: ProcessPoolExecutor,
    context: dict[str, Any],
    columns: list[Column],
    parts: list[Sequence[dict]],
) -> list[Future]:
    """Hand the chunks to ``pool``: those it took (a warning if the pool would not take all)."""
    futures: list[Future] = []
    try:
        for part in parts:
            futures.append(pool.submit(render_chunk, context, columns, part))
    except POOL_FAILURES as error:
        log.warning("laying out the PDF appendix in one process: %s", error)
    return futures


def collect_chunks(futures: list[Future], chunks: list[Chunk | None]) -> None:
    """Fill ``chunks`` with the pool's results; a chunk the pool failed to deliver stays None.

    The URLs the workers' fetchers refused join :data:`REFUSED_URLS` of this process. An error
    raised by the rendering itself (not by the pool) goes up as it is.
    """
    failure: BaseException | None = None
    for index, future in enumerate(futures):
        try:
            pdf, refused = future.result()
        except POOL_FAILURES as error:
            failure = failure or error
        else:
            chunks[index] = pdf, refused
            REFUSED_URLS.extend(refused)
    if failure is not None:
        missing = sum(chunk is None for chunk in chunks)
        log.warning(
            "a worker process laying out the PDF appendix failed (%s); laying out %d of %d "
            "parts in this process",
            failure,
            missing,
            len(chunks),
        )


def merge(main: bytes, chunks: list[bytes], page_size: str) -> bytes:
    """The body's PDF with every chunk's pages appended and every page numbered.

    The body keeps its outline, metadata, output intent and attachments.
    """
    body = PdfReader(io.BytesIO(main))
    producer = body.metadata.get("/Producer") if body.metadata else None
    writer = PdfWriter(clone_from=body)
    for pdf in chunks:
        for page in PdfReader(io.BytesIO(pdf)).pages:
            writer.add_page(page)
    stamp_page_numbers(writer, page_size)
    if producer:  # the XMP metadata names WeasyPrint; the document information must agree
        writer.add_metadata({"/Producer": producer})
    # Every part and every stamp brings its own copy of the same colour profile: keep one.
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def stamp_page_numbers(writer: PdfWriter, page_size: str) -> None:
    """Write "Page X of Y" in the footer of every page, as the one-piece PDF does.

    The numbers come from a document of empty pages whose footer is laid out by WeasyPrint
    with the report's own style; each of its pages is merged over the matching page.
    """
    total = len(writer.pages)
    style = (
        f"{asset_text('stamp.css')}\n@page {{ size: {page_size}; }}\n"
        f"@page wide {{ size: {page_size} landscape; }}"
    )
    # A landscape page of the body (a wide table's) gets a landscape stamp.
    pages = "".join(
        '<div class="p wide"></div>'
        if page.mediabox.width > page.mediabox.height
        else '<div class="p"></div>'
        for page in writer.pages
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><style>{style}</style>'
        f"</head><body>{pages}</body></html>"
    )
    stamps = PdfReader(io.BytesIO(html_to_pdf(page, AssetFetcher(), None)))
    if len(stamps.pages) != total:
        raise RuntimeError(f"page-number stamps: {len(stamps.pages)} pages for {total}")
    for target, stamp in zip(writer.pages, stamps.pages, strict=True):
        target.merge_page(stamp)
        # merge_page leaves the joined content uncompressed: compress it again.
        target.compress_content_streams()
