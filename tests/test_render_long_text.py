"""Long text (SPEC 7): cut with an ellipsis in HTML and PDF cells, whole in the CSV and Excel.

A failed patch whose title is one 1 MiB word once took WeasyPrint minutes to break into
lines; cut at CELL_TEXT_LIMIT characters, it costs what any other title does.
"""

import re

import openpyxl
import pandas as pd
import pytest
from factories import make_model
from pypdf import PdfReader
from readers import sheet_rows

from reporter.render.cells import CELL_TEXT_LIMIT, ELLIPSIS
from reporter.render.csv import render_csv
from reporter.render.excel import render_xlsx
from reporter.render.html import render_html
from reporter.render.pdf import render_pdf
from reporter.render.xlsx_columns import EXCEL_MAX_TEXT

LONG_TITLE = "Z" * 2**20  # 1 MiB without a space
CUT = "Z" * (CELL_TEXT_LIMIT - len(ELLIPSIS)) + ELLIPSIS


def with_title(model, title: str):
    """``model`` with ``title`` as the first row's title in every table that shows titles."""
    for name in ("patches", "failed", "failure_summary", "patch_rollup"):
        frame = getattr(model, name)
        titles = frame["title"].astype(object)
        titles.iloc[0] = title
        setattr(model, name, frame.assign(title=titles))
    return model


@pytest.fixture(scope="module")
def long_model():
    return with_title(make_model(servers=12), LONG_TITLE)


@pytest.mark.slow
def test_pdf_cells_are_cut_and_the_pages_few(long_model, tmp_path):
    plain = PdfReader(render_pdf(make_model(servers=12), tmp_path / "plain.pdf", detail="all"))
    reader = PdfReader(render_pdf(long_model, tmp_path / "long.pdf", detail="all"))
    text = re.sub(r"\s", "", "".join(page.extract_text() for page in reader.pages))
    shown = re.findall(rf"Z{{20,}}{ELLIPSIS}?", text)
    assert len(shown) >= 3  # the failure summary, the patch roll-up and the appendix
    assert set(shown) == {CUT}
    assert len(reader.pages) <= len(plain.pages) + 1
    attached = reader.attachments["failed-patches.csv"][0].decode("utf-8")
    assert LONG_TITLE in attached  # the data attached keeps the value whole


def test_html_cells_are_cut(long_model, tmp_path):
    plain = render_html(make_model(servers=12), tmp_path / "plain.html").stat().st_size
    page = render_html(long_model, tmp_path / "long.html").read_text(encoding="utf-8")
    shown = re.findall(rf"Z{{20,}}{ELLIPSIS}?", page)
    assert len(shown) >= 4  # the failure summary, failed attempts, patch roll-up, patch detail
    assert set(shown) == {CUT}
    assert len(page.encode("utf-8")) < plain + 10 * CELL_TEXT_LIMIT


def test_csv_and_excel_keep_the_value(long_model, tmp_path):
    frame = pd.read_csv(render_csv(long_model, tmp_path / "long.csv"), dtype=str)
    assert frame["title"].iloc[0] == LONG_TITLE
    book = openpyxl.load_workbook(render_xlsx(long_model, tmp_path / "long.xlsx"), read_only=True)
    rows = sheet_rows(book, "Patches")
    assert rows[0]["Title"] == LONG_TITLE[:EXCEL_MAX_TEXT]  # as much as a cell holds
