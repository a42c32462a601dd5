"""The Excel workbook, read back with openpyxl: sheets, headers, types, safety, links, limits."""

import dataclasses
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from factories import make_model
from xlsxwriter.format import Format
from xlsxwriter.sharedstrings import SharedStringTable
from xlsxwriter.worksheet import Worksheet

from reporter.render import excel, xlsx_rows
from reporter.render.excel import render_xlsx

SHEETS = [
    "Summary",
    "Trend",
    "Changes",
    "Persistent failures",
    "Servers",
    "Executions",
    "Patches",
    "Failed",
    "Patch Rollup",
    "Completeness",
    "Problems",
    "Definitions",
]
TABLES = SHEETS[1:-1]


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    model = make_model(hostile=True)
    # Values the factory does not carry: CR/LF-leading text and a negative number as text.
    owners = model.patches["owner"].astype(object)
    owners.iloc[0], owners.iloc[1], owners.iloc[2] = "\rCR", "\nLF", "-2"
    model.patches = model.patches.assign(owner=owners)
    path = render_xlsx(model, tmp_path_factory.mktemp("xlsx") / "report.xlsx")
    return openpyxl.load_workbook(path)


def column(sheet, header: str) -> list:
    """The values under ``header`` (row 1), header excluded."""
    headers = [cell.value for cell in sheet[1]]
    index = headers.index(header) + 1
    return [
        row[0] for row in sheet.iter_rows(min_row=2, min_col=index, max_col=index, values_only=True)
    ]


def test_sheets_in_order(hostile_book) -> None:
    assert hostile_book.sheetnames == SHEETS


def test_headers_frozen_filtered_and_styled(hostile_book) -> None:
    patches = hostile_book["Patches"]
    headers = [cell.value for cell in patches[1]]
    assert headers[:8] == [
        "Account alias",
        "Server ID",
        "Execution ID",
        "Execution status",
        "Execution start (UTC)",
        "Execution end (UTC)",
        "Patch seq",
        "Title",
    ]
    assert "Duration (s)" in headers and "HRESULT" in headers and "KBs" in headers
    assert headers[-2:] == ["owner", "environment"]  # inventory attributes as written
    for name in TABLES:
        sheet = hostile_book[name]
        assert sheet.freeze_panes == "A2", name
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:"), name
        assert sheet["A1"].font.bold, name
        assert sheet["A1"].fill.fgColor.rgb.endswith("1F3864"), name
    widths = [patches.column_dimensions[letter].width for letter in ("A", "H", "E")]
    assert 6 <= widths[0] < widths[1] <= 62 and widths[2] >= 19


def test_cells_are_typed(hostile_book) -> None:
    patches = hostile_book["Patches"]
    starts = column(patches, "Execution start (UTC)")
    assert starts[0] == datetime(2026, 10, 14, 2, 0)
    assert all(isinstance(value, datetime) for value in starts)
    assert patches["E2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert column(patches, "Patch seq")[:3] == [1, 2, 3]
    assert column(patches, "Result code")[1] == 3
    assert column(patches, "Reboot required")[0] is False
    assert column(patches, "HRESULT")[0] is None  # unknown -> blank
    ends = column(patches, "Execution end (UTC)")
    assert None in ends  # running executions have no end
    servers = hostile_book["Servers"]
    assert isinstance(column(servers, "Executions")[0], int)
    executions = hostile_book["Executions"]
    assert column(executions, "Duration mismatch")[0] is False
    assert column(executions, "Start (UTC)")[0] == datetime(2026, 10, 14, 2, 0)


def test_no_formulas_and_formula_payloads_neutralised(hostile_book) -> None:
    for sheet in hostile_book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))
    owners = set(column(hostile_book["Patches"], "owner"))
    assert {"'\nLF", "'-2", "'+1+2", "'@SUM(A1)", "'\tTAB"} <= owners
    assert "'_x000D_CR" in owners  # Excel's escape for CR, which openpyxl leaves as is
    assert '\'=HYPERLINK("http://attacker.invalid","x")' in owners
    summary = {row[0]: row[1] for row in hostile_book["Summary"].iter_rows(values_only=True)}
    assert summary["Title"] == "Patch compliance <script>alert('t')</script>"


def test_kb_links_only_on_the_kb_column(hostile_book) -> None:
    seen = 0
    for sheet in hostile_book.worksheets:
        headers = [cell.value for cell in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if cell.hyperlink is None:
                    continue
                seen += 1
                assert headers[cell.column - 1] == "KB", (sheet.title, cell.coordinate)
                assert (
                    cell.hyperlink.target == f"https://support.microsoft.com/help/{cell.value[2:]}"
                )
    patches = hostile_book["Patches"]
    linked = [c for c in patches["I"][1:] if c.value]
    assert seen and all(cell.hyperlink for cell in linked)
    assert hostile_book["Patch Rollup"]["B2"].hyperlink is not None


def test_summary_and_definitions(hostile_book) -> None:
    summary = {row[0]: row[1] for row in hostile_book["Summary"].iter_rows(values_only=True)}
    assert summary["Servers in scope"] == 12
    assert summary["Compliant servers"] == 6
    assert summary["Compliant (% of servers)"] == pytest.approx(0.5)
    assert summary["Generated at (UTC)"] == datetime(2026, 11, 26, 9, 30)
    assert summary["Input file SHA-256"] == "0" * 64
    definitions = list(hostile_book["Definitions"].iter_rows(values_only=True))
    codes = {row[0]: row[1] for row in definitions if isinstance(row[0], int)}
    assert codes == {
        0: "Not started",
        1: "In progress",
        2: "Succeeded",
        3: "Succeeded with errors",
        4: "Failed",
        5: "Aborted",
    }
    assert ("0x80240022", "WU_E_ALL_UPDATES_FAILED") in {row[:2] for row in definitions}
    assert any(str(row[0]).startswith("Non-compliant:") for row in definitions)


def test_failed_rows_are_highlighted(hostile_book) -> None:
    rules = {
        name: [
            rule.formula for cf in hostile_book[name].conditional_formatting for rule in cf.rules
        ]
        for name in ("Servers", "Patches", "Executions")
    }
    assert rules["Servers"] == [['$C2="Non-compliant"']]
    assert rules["Patches"] == [['$W2="failed"']]
    assert rules["Executions"] == [['$D2="failed"']]


def test_long_tables_continue_on_more_sheets(tmp_path: Path) -> None:
    model = make_model(servers=12, patches_per_server=6)  # 60 patch rows
    book = openpyxl.load_workbook(render_xlsx(model, tmp_path / "r.xlsx", max_rows=26))
    assert book.sheetnames[6:10] == ["Patches", "Patches (2)", "Patches (3)", "Failed"]
    ids = []
    for name in ("Patches", "Patches (2)", "Patches (3)"):
        sheet = book[name]
        assert sheet["B1"].value == "Server ID" and sheet.freeze_panes == "A2"
        ids += column(sheet, "Execution ID")
    assert [len(column(book[n], "Server ID")) for n in book.sheetnames[6:9]] == [25, 25, 10]
    assert ids == model.patches["execution_id"].astype(str).tolist()
    assert book["Patches (2)"]["I2"].hyperlink is not None


def test_links_stop_at_the_cap_and_the_rest_stays_text(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(excel, "EXCEL_MAX_URLS", 3)
    model = make_model()
    book = openpyxl.load_workbook(render_xlsx(model, tmp_path / "r.xlsx"))
    kbs = book["Patches"]["I"][1:]
    assert sum(cell.hyperlink is not None for cell in kbs) == 3
    assert [cell.value for cell in kbs] == [
        None if pd.isna(kb) else kb for kb in model.patches["kb"].tolist()
    ]


def assert_same_workbooks(fast: openpyxl.Workbook, slow: openpyxl.Workbook) -> None:
    """Every sheet's values, links and number formats agree, cell by cell."""
    assert fast.sheetnames == slow.sheetnames
    for name in fast.sheetnames:
        assert list(fast[name].values) == list(slow[name].values), name
        fast_links = [c.coordinate for r in fast[name].iter_rows() for c in r if c.hyperlink]
        slow_links = [c.coordinate for r in slow[name].iter_rows() for c in r if c.hyperlink]
        assert fast_links == slow_links, name
        styles = [(c.coordinate, c.number_format) for r in fast[name].iter_rows() for c in r]
        assert styles == [
            (c.coordinate, c.number_format) for r in slow[name].iter_rows() for c in r
        ], name


@pytest.fixture(scope="module")
def cell_by_cell(tmp_path_factory) -> openpyxl.Workbook:
    """The hostile model's workbook written through XlsxWriter's public API only."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(excel, "FAST_SHEET_DATA", False)
        path = render_xlsx(make_model(hostile=True), tmp_path_factory.mktemp("slow") / "s.xlsx")
    return openpyxl.load_workbook(path)


def test_fast_rows_match_cell_by_cell_writing(tmp_path, cell_by_cell) -> None:
    assert excel.FAST_SHEET_DATA  # the installed XlsxWriter has every internal the path uses
    fast = openpyxl.load_workbook(render_xlsx(make_model(hostile=True), tmp_path / "fast.xlsx"))
    assert_same_workbooks(fast, cell_by_cell)


def test_a_failure_while_preparing_rows_falls_back_to_cell_by_cell(
    tmp_path, monkeypatch, cell_by_cell
) -> None:
    calls = []

    def changed_internal(*args) -> str:
        calls.append(args)
        raise AttributeError("'SharedStringTable' object has no attribute 'string_table'")

    monkeypatch.setattr(xlsx_rows, "cell_xml", changed_internal)
    book = openpyxl.load_workbook(render_xlsx(make_model(hostile=True), tmp_path / "f.xlsx"))
    assert len(calls) == len(TABLES)  # each table's sheet tried the fast path, and gave up
    assert_same_workbooks(book, cell_by_cell)


@pytest.mark.parametrize(
    ("owner", "member", "replacement"),
    [
        (Worksheet, "_check_dimensions", lambda self, cell: 0),  # new signature
        (Worksheet, "_write_sheet_data", lambda self, rows: None),
        (Worksheet, "_assemble_xml_file", lambda self: None),  # no longer calls the hook
        (SharedStringTable, "_get_shared_string_index", None),  # gone
        (Format, "_get_xf_index", lambda self, workbook: 0),
    ],
)
def test_a_changed_xlsxwriter_internal_turns_the_fast_path_off(
    monkeypatch, owner, member, replacement
) -> None:
    assert xlsx_rows.fast_path_supported()
    if replacement is None:
        monkeypatch.delattr(owner, member)
    else:
        monkeypatch.setattr(owner, member, replacement)
    assert not xlsx_rows.fast_path_supported()


def test_a_worksheet_without_an_expected_attribute_turns_the_fast_path_off(monkeypatch) -> None:
    original = Worksheet.__init__

    def without_file_handle(self) -> None:
        original(self)
        del self.fh

    monkeypatch.setattr(Worksheet, "__init__", without_file_handle)
    assert not xlsx_rows.fast_path_supported()


def test_an_empty_report_still_has_every_sheet(tmp_path: Path) -> None:
    model = make_model(servers=0)
    model.failed = pd.DataFrame()
    book = openpyxl.load_workbook(render_xlsx(model, tmp_path / "empty.xlsx"))
    assert book.sheetnames == SHEETS
    assert [c.value for c in book["Patches"][1]][:2] == ["Account alias", "Server ID"]
    assert book["Patches"].max_row == 1


def test_written_whole_or_not_at_all(tmp_path, monkeypatch) -> None:
    path = tmp_path / "report.xlsx"
    path.write_bytes(b"previous")

    def broken(*args) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(excel, "write_definitions", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        render_xlsx(make_model(), path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


def test_links_without_a_reusable_url_object(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(excel, "Url", None)  # as with an XlsxWriter before 3.2
    book = openpyxl.load_workbook(render_xlsx(make_model(), tmp_path / "r.xlsx"))
    links = [c for c in book["Patches"]["I"][1:] if c.hyperlink]
    assert links and all(c.hyperlink.target.endswith(c.value[2:]) for c in links)


def test_every_sheet_prints_landscape_fit_to_width_with_its_header_repeated(hostile_book):
    for sheet in hostile_book.worksheets:
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        # fitToWidth is left out of the file when 1, its default in the format.
        setup = sheet.page_setup
        assert (setup.fitToWidth or 1, setup.fitToHeight) == (1, 0), sheet.title
        if sheet.title != "Definitions":  # a page of texts, without a header row
            assert sheet.print_title_rows == "$1:$1", sheet.title


def test_by_group_sheet_after_the_summary(tmp_path: Path) -> None:
    model = make_model(servers=12, group_by=["environment", "owner"])
    book = openpyxl.load_workbook(render_xlsx(model, tmp_path / "grouped.xlsx"))
    names = book.sheetnames
    assert names[names.index("By group") - 1 : names.index("By group") + 2] == [
        "Persistent failures",
        "By group",
        "Servers",
    ]
    sheet = book["By group"]
    headers = [cell.value for cell in sheet[1]]
    assert headers == [
        "Attribute",
        "Group",
        "Servers",
        "Compliant",
        "Non-compliant",
        "In progress",
        "No data",
        "Counted compliant",
        "Compliance %",
    ]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert {row[0] for row in rows} == {"environment", "owner"}
    for attribute in ("environment", "owner"):
        assert sum(row[2] for row in rows if row[0] == attribute) == model.kpis.servers
    assert all(row[2] == sum(row[3:7]) for row in rows)


def test_times_are_shown_in_the_chosen_zone(tmp_path: Path) -> None:
    model = make_model(servers=2)
    model.meta = dataclasses.replace(model.meta, timezone="America/New_York")
    book = openpyxl.load_workbook(render_xlsx(model, tmp_path / "zoned.xlsx"))
    patches = book["Patches"]
    start = column(patches, "Execution start (America/New_York)")[0]
    utc = model.patches["execution_start"].iloc[0]
    assert start == utc.tz_convert("America/New_York").tz_localize(None).to_pydatetime()
    summary = {row[0].value: row[1].value for row in book["Summary"].iter_rows(min_row=2)}
    assert summary["Time zone"].startswith("America/New_York")
    assert "Generated at (America/New_York)" in summary
