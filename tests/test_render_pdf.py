"""The PDF report, read back with pypdf: text, outline, metadata, PDF/A parts, fetch refusals."""

import dataclasses
import http.server
import io
import json
import logging
import multiprocessing
import os
import re
import sys
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import ClassVar

import pytest
from factories import make_model
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ContentStream

from reporter.errors import RenderError, UsageError
from reporter.render import pdf as pdf_module
from reporter.render import pdf_appendix, pdf_engine
from reporter.render.pdf import render_pdf
from reporter.render.pdf_engine import AssetFetcher, FetchRefusedError, html_to_pdf

SECTION_TITLES = [
    "Executive summary",
    "Non-compliant servers",
    "Failed patches",
    "Patch roll-up",
    "Servers",
    "Executions",
    "Problems",
    "Methodology",
]
APPENDIX = "Appendix: patch detail"  # a section only when the PDF lists every attempt


def outline_titles(reader: PdfReader) -> list[str]:
    titles = []
    for item in reader.outline:
        if isinstance(item, list):
            titles.extend(outline_titles_of(item))
        else:
            titles.append(item.title)
    return titles


def outline_titles_of(items: list) -> list[str]:
    return [
        t
        for item in items
        for t in (outline_titles_of(item) if isinstance(item, list) else [item.title])
    ]


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def page_contents(reader: PdfReader) -> list[bytes]:
    """What each page draws, decompressed: equal lists are the same pages, number stamps too.

    A hundredth of the cost of extracting the text, for comparing two layouts of one report.
    """
    return [page.get_contents().get_data() for page in reader.pages]


@pytest.fixture(scope="module")
def archival(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdf")
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"files": [{"sha256": "ab" * 32}]}), encoding="utf-8")
    model = make_model(servers=12)
    path = render_pdf(model, folder / "report.pdf", manifest_path=manifest)
    reader = PdfReader(path)
    return model, reader, text_of(reader), manifest.read_bytes()


def test_page_count_is_reasonable(archival):
    _, reader, _, _ = archival
    assert 4 <= len(reader.pages) <= 12


def test_text_has_the_kpis_and_section_titles(archival):
    model, _, text, _ = archival
    kpis = model.kpis
    assert f"{kpis.compliant_pct:.1f}%" in text
    assert f"{kpis.compliant} of {kpis.servers} servers" in text
    for title in SECTION_TITLES:
        assert title in text, title
    assert f"Page 1 of {len(archival[1].pages)}" in text


def test_outline_has_every_section(archival):
    _, reader, _, _ = archival
    titles = outline_titles(reader)
    assert titles[0] == "Patch compliance"
    for title in SECTION_TITLES:
        assert title in titles, title
    # No page exists only to say the appendix is left out (detail="none").
    assert APPENDIX not in titles


def test_document_metadata(archival):
    model, reader, _, _ = archival
    meta = reader.metadata
    assert meta.title == f"{model.meta.title} {model.meta.label}"
    assert meta.author == "reporter"
    assert "Patch compliance of 12 servers" in meta.subject
    assert "2026-10" in meta["/Keywords"]
    assert meta["/CreationDate"].startswith("D:20261126")


def test_archival_variant_has_output_intent_and_attachments(archival):
    model, reader, _, manifest = archival
    root = reader.trailer["/Root"]
    intents = root["/OutputIntents"]
    assert intents[0].get_object()["/S"] == "/GTS_PDFA1"
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"pdfaid:part(>|=\")3", xmp)
    attachments = reader.attachments
    assert attachments["manifest.json"] == [manifest]
    servers_csv = attachments["servers.csv"][0].decode("utf-8")
    assert servers_csv.count("\n") == len(model.servers) + 1
    assert "failed-patches.csv" in attachments


def test_failures_are_summarised_without_the_appendix(archival):
    _, _, text, _ = archival
    assert "By patch and error" in text
    assert "attached to this PDF as failed-patches.csv" in text
    assert "This PDF does not list the" in text  # detail="none": no appendix rows


def test_plain_letter_pdf_has_no_attachments(tmp_path):
    path = render_pdf(
        make_model(servers=4), tmp_path / "plain.pdf", page_size="Letter", variant="none"
    )
    reader = PdfReader(path)
    assert not reader.attachments
    assert "/OutputIntents" not in reader.trailer["/Root"]
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    assert not list(tmp_path.glob("*.part"))


def content_is_well_formed(reader: PdfReader, page) -> bool:
    """Whether a page's content is compressed and its graphics states nest (q ... Q)."""
    contents = page["/Contents"].get_object()
    if isinstance(contents, list) or contents.get("/Filter") != "/FlateDecode":
        return False
    depth = 0
    for _, operator in ContentStream(contents, reader).operations:
        depth += (operator == b"q") - (operator == b"Q")
        if depth < 0 or operator in (b"QQ", b"qQ", b"Qq"):
            return False
    return depth == 0


def render_appendix_in_parts(model, path, monkeypatch, workers: int = 2) -> PdfReader:
    """Render ``model`` with every attempt, its appendix laid out in parts by ``workers``."""
    # Small thresholds drive the parts path with a small model.
    monkeypatch.setattr(pdf_module, "PARALLEL_ROWS", 20)
    monkeypatch.setattr(pdf_appendix, "APPENDIX_CHUNK_ROWS", 25)
    monkeypatch.setattr(pdf_appendix, "pool_workers", lambda: workers)
    return PdfReader(render_pdf(model, path, detail="all"))


@pytest.fixture(scope="module")
def in_parts(tmp_path_factory):
    """An 8-server model's PDF with every attempt, laid out in parts and in one piece.

    Returns the model, the PDF whose appendix two worker processes laid out (read back, and
    the text of its pages), and the path of the same report laid out as one document.
    """
    folder = tmp_path_factory.mktemp("parts")
    model = make_model(servers=8)
    with pytest.MonkeyPatch.context() as monkeypatch:
        reader = render_appendix_in_parts(model, folder / "parallel.pdf", monkeypatch)
    one_piece = render_pdf(model, folder / "one-piece.pdf", detail="all")
    return model, reader, [page.extract_text() for page in reader.pages], one_piece


def test_detail_all_lists_every_attempt(in_parts):
    model, _, _, one_piece = in_parts
    reader = PdfReader(one_piece)
    text = text_of(reader)
    assert APPENDIX in outline_titles(reader)
    appendix = text.split(APPENDIX)[-1]
    assert "This PDF does not list the" not in text
    for execution_id, attempts in model.patches["execution_id"].value_counts().items():
        assert appendix.count(str(execution_id)) >= attempts, execution_id


def test_parallel_appendix_keeps_outline_numbers_and_attachments(in_parts):
    model, reader, pages, _ = in_parts
    total = len(pages)
    for number, text in enumerate(pages, start=1):
        assert text.count(f"Page {number} of {total}") == 1, number
    assert all(title in outline_titles(reader) for title in [*SECTION_TITLES, APPENDIX])
    assert {"servers.csv", "failed-patches.csv"} <= set(reader.attachments)
    assert reader.trailer["/Root"]["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"pdfaid:part(>|=\")3", xmp)
    assert reader.metadata.author == "reporter"
    assert reader.metadata["/Producer"].startswith("WeasyPrint")
    appendix = "\n".join(pages).split(APPENDIX)[-1]
    for execution_id, attempts in model.patches["execution_id"].value_counts().items():
        assert appendix.count(str(execution_id)) >= attempts, execution_id


def test_stamped_pages_stay_well_formed_and_compact(in_parts):
    _, reader, _, one_piece = in_parts
    assert all(content_is_well_formed(reader, page) for page in reader.pages)
    # Every stamp shares its fonts and no replaced content is left behind in the file: the
    # merged PDF is about the size of the same report laid out in one piece (each part
    # embeds its own font subsets), not several times it.
    assert reader.stream.getbuffer().nbytes < 2 * one_piece.stat().st_size


def test_stamping_uses_no_deprecated_pypdf_call(in_parts, tmp_path):
    _, reader, _, _ = in_parts
    body = io.BytesIO()
    writer = PdfWriter()
    for page in reader.pages[:3]:
        writer.add_page(page)
    writer.write(body)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        merged = pdf_appendix.merge(body.getvalue(), [body.getvalue()], "A4")
    assert len(PdfReader(io.BytesIO(merged)).pages) == 6
    assert [w for w in caught if issubclass(w.category, DeprecationWarning)] == []


def test_appendix_in_one_process_where_there_is_no_pool(in_parts, tmp_path, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("no worker process may be started")

    monkeypatch.setattr(pdf_appendix, "ProcessPoolExecutor", no_pool)
    model, pooled, _, _ = in_parts
    reader = render_appendix_in_parts(model, tmp_path / "one.pdf", monkeypatch, workers=0)
    assert page_contents(reader) == page_contents(pooled)
    assert all(content_is_well_formed(reader, page) for page in reader.pages)


@pytest.fixture
def render_warnings():
    """What reporter.render logs at WARNING and above during the test.

    Listened to on the logger itself: a CLI run earlier in the process stops "reporter"
    records from reaching the root logger, and so pytest's caplog.
    """
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("reporter.render")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_a_broken_pool_falls_back_to_this_process(in_parts, tmp_path, monkeypatch, render_warnings):
    parent, lay_out = os.getpid(), pdf_appendix.html_to_pdf

    def killed_in_a_worker(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(1)  # as the out-of-memory killer would end it
        return lay_out(*args, **kwargs)

    monkeypatch.setattr(pdf_appendix, "html_to_pdf", killed_in_a_worker)
    model, pooled, _, _ = in_parts
    reader = render_appendix_in_parts(model, tmp_path / "fallback.pdf", monkeypatch)
    [warning] = [record.getMessage() for record in render_warnings]
    assert "worker process" in warning and "in this process" in warning
    assert page_contents(reader) == page_contents(pooled)


def test_a_pool_that_cannot_start_falls_back_to_this_process(
    in_parts, tmp_path, monkeypatch, render_warnings
):
    class Unstartable(ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            raise OSError(11, "Resource temporarily unavailable")  # fork: EAGAIN

    monkeypatch.setattr(pdf_appendix, "ProcessPoolExecutor", Unstartable)
    model, pooled, _, _ = in_parts
    reader = render_appendix_in_parts(model, tmp_path / "no-fork.pdf", monkeypatch)
    [warning] = [record.getMessage() for record in render_warnings]
    assert "in one process" in warning
    assert page_contents(reader) == page_contents(pooled)


def test_an_error_in_a_worker_is_not_taken_for_a_broken_pool(tmp_path, monkeypatch):
    def broken_template(*args, **kwargs):
        raise ValueError("a template error")

    monkeypatch.setattr(pdf_appendix, "render_template", broken_template)
    with pytest.raises(RenderError, match="a template error"):
        render_appendix_in_parts(make_model(servers=8), tmp_path / "x.pdf", monkeypatch)


def test_worker_processes_only_where_fork_is_safe_and_cpus_are_free(monkeypatch):
    monkeypatch.setattr(pdf_appendix, "usable_cpus", lambda: 8)
    assert pdf_appendix.pool_workers() == pdf_appendix.WORKERS
    monkeypatch.setattr(pdf_appendix, "usable_cpus", lambda: 1)
    assert pdf_appendix.pool_workers() == 0
    monkeypatch.setattr(pdf_appendix, "usable_cpus", lambda: 8)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])  # Windows
    assert pdf_appendix.pool_workers() == 0
    monkeypatch.undo()
    monkeypatch.setattr(pdf_appendix, "usable_cpus", lambda: 8)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert pdf_appendix.pool_workers() == 0


def test_chunks_are_balanced_and_cover_every_row():
    rows = [{"n": n} for n in range(3001)]
    parts = pdf_appendix.chunked(rows, 2)
    assert [row for part in parts for row in part] == rows
    assert len(parts) == 3 and max(map(len, parts)) - min(map(len, parts)) < len(parts)
    assert len(pdf_appendix.chunked(rows[:10], 2)) == 2


def test_bad_options_are_usage_errors(tmp_path):
    model = make_model(servers=2)
    for options in ({"page_size": "A3"}, {"detail": "some"}, {"variant": "pdf/x"}):
        with pytest.raises(UsageError):
            render_pdf(model, tmp_path / "x.pdf", **options)
    assert not (tmp_path / "x.pdf").exists()


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self):
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    Recorder.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hostile_title_is_text_and_fetches_nothing(tmp_path, loopback_server):
    model = make_model(servers=6, hostile=True)
    title = f"Q4 <img src={loopback_server}/title.png> <img src=file:///etc/passwd>"
    model = dataclasses.replace(model, meta=dataclasses.replace(model.meta, title=title))
    before = len(pdf_engine.REFUSED_URLS)
    reader = PdfReader(render_pdf(model, tmp_path / "hostile.pdf", detail="all"))
    text = text_of(reader)
    assert "<img src=file:///etc/passwd>" in text
    assert f"<img src={loopback_server}/title.png>" in text
    assert "<script>alert(1)</script>" in text
    assert Recorder.requests == []
    assert len(pdf_engine.REFUSED_URLS) == before  # escaped: nothing even asked for


def test_fetcher_refuses_everything_but_packaged_assets(loopback_server):
    fetcher = AssetFetcher()
    page = (
        f'<p>x</p><img src="{loopback_server}/pixel.png"><img src="file:///etc/passwd">'
        '<img src="ftp://127.0.0.1/x"><img src="data:image/png;base64,iVBORw0KGgo=">'
        f"<style>p {{ background: url({loopback_server}/bg.png) }}</style>"
    )
    pdf = html_to_pdf(page, fetcher, None)
    assert PdfReader(io.BytesIO(pdf)).pages
    assert Recorder.requests == []
    refused = " ".join(fetcher.refused)
    for url in (
        f"{loopback_server}/pixel.png",
        "file:///etc/passwd",
        "ftp://",
        "data:",
        f"{loopback_server}/bg.png",
    ):
        assert url in refused, url
    with pytest.raises(FetchRefusedError):
        fetcher.fetch("reporter-asset:../../../../etc/passwd")
    served = fetcher.fetch("reporter-asset:print.css")
    assert b"@page" in served.read()


def test_server_tables_are_capped_with_what_needs_attention_first(tmp_path, monkeypatch):
    # Bounded at any fleet size: beyond the cap the server tables list the most serious
    # servers and say where the rest are (the attached servers.csv keeps every one).
    monkeypatch.setattr(pdf_module, "SERVER_ROWS", 6)
    model = make_model(servers=40, failing_share=0.5)
    statuses = model.servers["compliance"].astype(str)
    failing = int((statuses == "Non-compliant").sum())
    assert failing > 6
    reader = PdfReader(render_pdf(model, tmp_path / "capped.pdf"))
    text = " ".join(text_of(reader).split())
    assert f"Showing 6 of {failing} non-compliant servers, most failed attempts first" in text
    assert "Showing 6 of 40 servers, those needing attention first" in text
    listed = pdf_module.most_serious_first(model.servers, 6).head(6)
    assert set(listed["compliance"].astype(str)) == {"Non-compliant"}
    attached = {name: data for name, data in reader.attachments.items()}
    [servers_csv] = attached["servers.csv"]
    assert servers_csv.decode("utf-8").count("\n") == 41  # header and every server


def test_server_tables_fit_whole_under_the_cap(tmp_path):
    model = make_model(servers=12, failing_share=0.5)
    assert pdf_module.most_serious_first(model.servers, pdf_module.SERVER_ROWS) is model.servers
