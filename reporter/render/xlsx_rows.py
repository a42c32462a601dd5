"""Writing a worksheet's data rows as XML joined per column, for speed.

XlsxWriter spends about 5 µs per cell in Python; a 150,000-row patch table would take half a
minute that way. :class:`RowsXmlWorksheet` prepares each column's distinct values as ready
``<c>`` elements once and joins them per row. Text never enters the XML here: it goes to the
workbook's shared-string table, which XlsxWriter escapes when it writes it.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from xlsxwriter.sharedstrings import SharedStringTable
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

if TYPE_CHECKING:
    from reporter.render.excel import ColumnPlan, Styles

XML_CHUNK_ROWS = 16_384  # data rows joined into one write
ROW_MARK = "\x00"  # stands for the row number in a prepared <c> element (never in XML text)


class RowsXmlWorksheet(Worksheet):
    """A worksheet that writes its data rows from XML built per column, not cell by cell.

    XlsxWriter spends about 5 µs per cell in Python (pandas' ``to_excel`` included), which puts a
    150,000-row patch table at half a minute. Here each column's distinct values become ready
    ``<c>`` elements once (text goes to the workbook's shared strings), and a row is a join of
    its cells' elements. Everything else in the sheet (columns, panes, filter, conditional
    formats, hyperlinks) and the whole package stay XlsxWriter's.

    This overrides XlsxWriter's ``_write_sheet_data`` hook; :data:`FAST_SHEET_DATA` is off (and
    cells are written one by one) with an XlsxWriter that lacks the hooks used.
    """

    def __init__(self) -> None:
        super().__init__()
        self.header_xml = ""
        self.columns: list[tuple[np.ndarray, np.ndarray | None]] = []
        self.row_count = 0

    def load_rows(
        self,
        plans: Sequence["ColumnPlan"],
        headers: Sequence[str],
        start: int,
        stop: int,
        linked: np.ndarray | None,
        styles: "Styles",
    ) -> None:
        """Prepare rows ``start:stop`` of the planned columns, below a header row."""
        strings = self.str_table
        date_xf = styles.date._get_xf_index()
        link_xf = styles.link._get_xf_index()
        header_xf = styles.header._get_xf_index()
        self.header_xml = '<row r="1">' + "".join(
            f'<c r="{xl_col_to_name(col)}1" s="{header_xf}" t="s">'
            f"<v>{strings._get_shared_string_index(text)}</v></c>"
            for col, text in enumerate(headers)
        )
        self.header_xml += "</row>"
        self.columns = []
        for col, plan in enumerate(plans):
            letter = xl_col_to_name(col)
            style = f' s="{date_xf}"' if plan.kind == "datetime" else ""
            xml = [cell_xml(letter, value, style, strings) for value in plan.values]
            lookup = np.array(xml, dtype=object)
            codes = plan.codes[start:stop]
            if linked is not None and plan.name == "kb":
                links = np.array(
                    [cell_xml(letter, v, f' s="{link_xf}"', strings) for v in plan.values],
                    dtype=object,
                )
                self.columns.append((np.where(linked, links[codes], lookup[codes]), None))
            else:
                self.columns.append((codes, lookup))
        self.row_count = stop - start
        self._check_dimensions(0, 0)
        self._check_dimensions(max(self.row_count, 1), max(len(plans) - 1, 0))

    def _write_sheet_data(self) -> None:
        self.fh.write("<sheetData>")
        self.fh.write(self.header_xml)
        for first in range(0, self.row_count, XML_CHUNK_ROWS):
            last = min(first + XML_CHUNK_ROWS, self.row_count)
            cells = [
                lookup[codes[first:last]] if lookup is not None else codes[first:last]
                for codes, lookup in self.columns
            ]
            self.fh.write(
                "".join(
                    f'<row r="{number}">{body.replace(ROW_MARK, str(number))}</row>'
                    for number, body in zip(
                        range(first + 2, last + 2),
                        map("".join, zip(*cells, strict=True)),
                        strict=True,
                    )
                )
            )
        self.fh.write("</sheetData>")


def cell_xml(letter: str, value: object, style: str, strings: SharedStringTable) -> str:
    """The ``<c>`` element of one cell value, its row number left as :data:`ROW_MARK`."""
    if value is None:
        return ""
    ref = f'<c r="{letter}{ROW_MARK}"{style}'
    if isinstance(value, bool):
        return f'{ref} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, float):
        return f"{ref}><v>{value:.16G}</v></c>"
    return f'{ref} t="s"><v>{strings._get_shared_string_index(value)}</v></c>'


FAST_SHEET_DATA = all(
    callable(getattr(Worksheet, hook, None)) for hook in ("_write_sheet_data", "_check_dimensions")
)
