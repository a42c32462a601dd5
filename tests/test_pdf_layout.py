"""The PDF's pages read well at any size (SPEC 5): few pages at scale, no page left half
empty mid-section, no heading at the foot of a page, identifiers never broken mid-word, and
every page tied to its report. Read back from the PDF files, never timed."""

import csv
import hashlib
import io
import re
import shutil
import subprocess

import pytest
from factories import make_model
from pypdf import PdfReader

from reporter.cli import main
from reporter.render.pdf import render_pdf

# Each test lays out a whole demo month or a 2,500-server one: the slow step of CI runs them.
pytestmark = pytest.mark.slow

MM = 72 / 25.4
TOP_MARGIN, BOTTOM_MARGIN = 14 * MM, 12 * MM  # print.css's @page margins
HEADING_ROOM = 24  # points below a heading's top that its first line of content reaches


def body_lines(page) -> list[tuple[float, str]]:
    """(baseline height from the page's foot, text) of every text run between the margins."""
    top = float(page.mediabox.height) - TOP_MARGIN
    found = []

    def visit(text, cm, tm, font, size):
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if text.strip() and BOTTOM_MARGIN < y < top:
            found.append((y, text.strip()))

    page.extract_text(visitor_text=visit)
    return found


def outline_entries(reader: PdfReader, items=None, level: int = 1) -> list[tuple[int, str, float]]:
    """(page index, title, top) of every bookmark (h1, h2, h3), in document order."""
    entries = []
    for item in reader.outline if items is None else items:
        if isinstance(item, list):
            entries += outline_entries(reader, item, level + 1)
        else:
            entries.append((reader.get_destination_page_number(item), item.title, item.top))
    return entries


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's output folder and its PDF, read back."""
    folder = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(folder)], stdout=io.StringIO()) == 0
    [pdf] = folder.glob("patch-compliance-*.pdf")
    return folder, pdf, PdfReader(pdf)


def test_every_demo_page_is_tied_to_its_report(demo):
    folder, pdf, reader = demo
    label = pdf.stem.removeprefix("patch-compliance-")
    manifest = (folder / "evidence" / label / "manifest.json").read_bytes()
    report_id = hashlib.sha256(manifest).hexdigest()[:12]
    pages = [page.extract_text() for page in reader.pages]
    for number, text in enumerate(pages, start=1):
        assert f"OSD · {label} · Report ID {report_id}" in text, number
        assert f"Page {number} of {len(pages)}" in text, number
    assert "Prepared by" in pages[0] and "demo" in pages[0]  # the login's user name


def test_demo_pages_are_full_but_the_cover_and_the_end_of_a_section(demo):
    _, _, reader = demo
    starts = {page for page, _, _ in outline_entries(reader)[1:]}  # where a section begins
    last_pages = {page - 1 for page in starts} | {len(reader.pages) - 1}
    for index, page in enumerate(reader.pages):
        if index == 0 or index in last_pages:
            continue
        height = float(page.mediabox.height)
        lowest = min(y for y, _ in body_lines(page))
        middle = BOTTOM_MARGIN + (height - TOP_MARGIN - BOTTOM_MARGIN) / 2
        assert lowest < middle, f"page {index + 1} is more than half empty"


def test_no_heading_ends_a_page(demo):
    _, _, reader = demo
    for index, title, top in outline_entries(reader)[1:]:
        below = [y for y, _ in body_lines(reader.pages[index]) if y < top - HEADING_ROOM]
        assert below, f"{title!r} ends page {index + 1}"


def test_demo_ids_are_never_broken_mid_word(demo):
    folder, _, reader = demo
    text = "\n".join(page.extract_text() for page in reader.pages)
    with (folder / "demo-inventory.csv").open(encoding="utf-8") as handle:
        servers = {row["server_id"] for row in csv.DictReader(handle)}
    # Every server is in the Servers table: each ID must be found whole, on one line.
    missing = sorted(server for server in servers if server not in text)
    assert missing == []


def test_the_attachments_listed_are_the_attachments_carried(demo):
    _, pdf, reader = demo
    text = re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in reader.pages))
    for name, [data] in reader.attachments.items():
        assert f"{name} {len(data):,} {hashlib.sha256(data).hexdigest()}" in text, name
    if shutil.which("pdfdetach"):  # poppler-utils, as an auditor would check
        listed = subprocess.run(
            ["pdfdetach", "-list", str(pdf)], capture_output=True, text=True, check=True
        ).stdout
        assert sorted(re.findall(r"^\d+: (.+)$", listed, re.M)) == sorted(reader.attachments)


def test_a_2500_server_month_fits_in_110_pages(tmp_path):
    # A month at scale: 2,500 servers, a third of them non-compliant, as a real fleet has.
    model = make_model(servers=2500, failing_share=0.3, patches_per_server=2)
    reader = PdfReader(render_pdf(model, tmp_path / "fleet.pdf", variant="none"))
    assert len(reader.pages) <= 110
    starts = {title: page for page, title, _ in outline_entries(reader)}
    listed = "\n".join(
        page.extract_text() for page in reader.pages[starts["Servers"] : starts["Executions"] + 1]
    )
    listed = listed[: listed.rindex("\nExecutions\n")]  # the Servers section only
    # Each ID is found whole: one broken across lines would be read as a shorter ID or lost.
    found = re.findall(r"VA1OSDWEB\d+", listed)
    assert sorted(found) == sorted(model.servers["server_id"].astype(str))
