"""A report an auditor signs off (SPEC 5): sign-off block, classification, report ID on every
page and file, the attachments listed with their hashes, read back from the files."""

import dataclasses
import hashlib
import re

import openpyxl
import pytest
from factories import make_model
from pypdf import PdfReader
from readers import sheet_rows

from reporter.model import SignOff
from reporter.render import pdf as pdf_module
from reporter.render import pdf_appendix
from reporter.render.excel import render_xlsx
from reporter.render.html import render_html
from reporter.render.pdf import render_pdf


def signed_model(**sign_off):
    """A 12-server model with names to sign and a classification label."""
    model = make_model(servers=12)
    meta = dataclasses.replace(
        model.meta,
        sign_off=SignOff(**sign_off),
        classification="Confidential",
    )
    return dataclasses.replace(model, meta=meta)


@pytest.fixture(scope="module")
def signed_pdf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("signed")
    manifest = folder / "manifest.json"
    manifest.write_bytes(b'{"entries": []}')
    model = signed_model(prepared_by="Jane Doe", approved_by="R. Roe")
    reader = PdfReader(render_pdf(model, folder / "report.pdf", manifest_path=manifest))
    return model, reader, [page.extract_text() for page in reader.pages]


def test_the_report_id_is_the_manifests_hash_else_the_inputs():
    model = make_model(servers=2)
    assert model.meta.report_id == "f" * 12  # the factory's manifest hash
    without = dataclasses.replace(model.meta, manifest_sha256=None, input_sha256="ab" * 32)
    assert without.report_id == "ab" * 6


def test_cover_has_the_sign_off_block(signed_pdf):
    _, _, pages = signed_pdf
    cover = pages[0]
    for line in ("Prepared by", "Reviewed by", "Approved by", "Signature", "Date"):
        assert line in cover
    assert "Jane Doe" in cover and "R. Roe" in cover
    assert "CONFIDENTIAL" in cover.upper()


def test_every_page_carries_account_label_report_id_page_and_classification(signed_pdf):
    model, _, pages = signed_pdf
    footer = f"OSD · {model.meta.label} · Report ID {model.meta.report_id}"
    for number, text in enumerate(pages, start=1):
        assert footer in text, number
        assert f"Page {number} of {len(pages)}" in text, number
        assert "CONFIDENTIAL" in text, number  # upper-cased in the running header


def test_the_methodology_lists_each_attachment_with_its_size_and_hash(signed_pdf):
    _, reader, pages = signed_pdf
    text = re.sub(r"\s+", " ", "\n".join(pages))
    attached = reader.attachments
    assert set(attached) == {"servers.csv", "failed-patches.csv", "manifest.json"}
    for name, [data] in attached.items():
        digest = hashlib.sha256(data).hexdigest()
        assert re.search(rf"{re.escape(name)} {len(data):,} {digest}", text), name


def test_the_pdf_opens_on_its_attachments_and_stays_pdf_a_3u(signed_pdf):
    _, reader, _ = signed_pdf
    root = reader.trailer["/Root"]
    assert root["/PageMode"] == "/UseAttachments"
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"pdfaid:part(>|=\")3", xmp)
    assert re.search(r"pdfaid:conformance(>|=\")U", xmp)


def test_a_plain_pdf_opens_on_its_pages(tmp_path):
    reader = PdfReader(render_pdf(make_model(servers=2), tmp_path / "p.pdf", variant="none"))
    assert "/PageMode" not in reader.trailer["/Root"]


def test_blank_lines_to_sign_when_the_config_names_nobody(tmp_path):
    reader = PdfReader(render_pdf(signed_model(), tmp_path / "blank.pdf", variant="none"))
    cover = reader.pages[0].extract_text()
    assert "Prepared by" in cover and "Jane Doe" not in cover


@pytest.mark.slow
def test_the_appendix_laid_out_in_parts_keeps_the_footer(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_module, "PARALLEL_ROWS", 20)
    monkeypatch.setattr(pdf_appendix, "APPENDIX_CHUNK_ROWS", 25)
    monkeypatch.setattr(pdf_appendix, "pool_workers", lambda: 0)
    model = signed_model()
    reader = PdfReader(render_pdf(model, tmp_path / "parts.pdf", detail="all"))
    pages = [page.extract_text() for page in reader.pages]
    footer = f"Report ID {model.meta.report_id}"
    for number, text in enumerate(pages, start=1):
        assert footer in text and f"Page {number} of {len(pages)}" in text, number
        if number > 1:  # the running header, on the parts' first pages too
            assert "October 2026 (2026-10)" in text, number
    assert reader.trailer["/Root"]["/PageMode"] == "/UseAttachments"


def test_html_shows_the_report_id_classification_and_sign_off(tmp_path):
    model = signed_model(prepared_by="Jane Doe")
    page = render_html(model, tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count(model.meta.report_id) >= 2  # the title block and the page foot
    assert '<p class="classification">Confidential</p>' in page
    assert page.index("Confidential") < page.index("<h1>")  # at the top
    assert "Prepared by" in page and "Jane Doe" in page and "Approved by" in page


def test_workbook_summary_has_the_report_id_classification_and_sign_off(tmp_path):
    model = signed_model(reviewed_by="Ann Auditor")
    book = openpyxl.load_workbook(render_xlsx(model, tmp_path / "r.xlsx"), read_only=True)
    summary = {row["Item"]: row["Value"] for row in sheet_rows(book, "Summary") if row["Item"]}
    assert summary["Report ID"] == model.meta.report_id
    assert summary["Document classification"] == "Confidential"
    assert summary["Reviewed by"] == "Ann Auditor"
    assert summary["Prepared by"] == summary["Approved by"] == "(to be signed)"
