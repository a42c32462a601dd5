"""Writing a worksheet's data rows as XML joined per column, for speed.

XlsxWriter spends about 5 µs per cell in Python; a 150,000-row patch table would take half a
minute that way. :class:`RowsXmlWorksheet` prepares each column's distinct values as ready
``<c>`` elements once and joins them per row. Text never enters the XML here: it goes to the
workbook's shared-string table, which XlsxWriter escapes when it writes it.

This leans on XlsxWriter internals (listed in :data:`INTERNALS`), which a release may change
without notice. :func:`fast_path_supported` checks every one of them, with the signatures
used, before the fast path is taken, and :meth:`RowsXmlWorksheet.load_rows` gives up (the
caller then writes the cells one by one through the public API) on any surprise while it
prepares the rows.
"""

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from reporter.render.progress import StageProgress
from reporter.render.xlsx_columns import ColumnPlan

try:
    from xlsxwriter.sharedstrings import SharedStringTable
except ImportError:  # pragma: no cover - an XlsxWriter without it gets the public path
    SharedStringTable = None

log = logging.getLogger("reporter.render")

XML_CHUNK_ROWS = 16_384  # data rows joined into one write
ROW_MARK = "\x00"  # stands for the row number in a prepared <c> element (never in XML text)

# The XlsxWriter internals the fast path uses: (owner, member, arguments it is called with).
INTERNALS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("Worksheet", "_write_sheet_data", ()),  # overridden; called while the sheet is assembled
    ("Worksheet", "_check_dimensions", (0, 0)),  # records the used range for <dimension>
    ("SharedStringTable", "_get_shared_string_index", ("text",)),  # a string's table index
    ("Format", "_get_xf_index", ()),  # a format's index in the cell style table
]
# ...and the instance attributes: ``str_table`` (the workbook's SharedStringTable, given to
# each sheet), ``fh`` (the open XML file while the sheet is assembled) and ``constant_memory``
# (off, or the sheet data is streamed by another method).
ATTRIBUTES = ("str_table", "fh", "constant_memory")


def _accepts(owner: type | None, member: str, arguments: tuple[Any, ...]) -> bool:
    """Whether ``owner.member`` is a method that can be called with ``arguments``."""
    function = getattr(owner, member, None)
    if not callable(function):
        return False
    try:
        inspect.signature(function).bind(None, *arguments)  # None stands for self
    except (TypeError, ValueError):
        return False
    return True


def fast_path_supported() -> bool:
    """Whether the installed XlsxWriter has every internal the fast path uses, as it uses them.

    Checks each method of :data:`INTERNALS` with its call's arguments, that the sheet's
    assembly still calls ``_write_sheet_data``, and that a new worksheet has the attributes of
    :data:`ATTRIBUTES`.
    """
    owners = {"Worksheet": Worksheet, "SharedStringTable": SharedStringTable, "Format": Format}
    if not all(_accepts(owners[owner], name, args) for owner, name, args in INTERNALS):
        return False
    assemble = getattr(Worksheet, "_assemble_xml_file", None)
    if "_write_sheet_data" not in getattr(getattr(assemble, "__code__", None), "co_names", ()):
        return False
    try:
        probe = Worksheet()
    except Exception:  # any failure means: not the XlsxWriter we know
        return False
    return all(hasattr(probe, name) for name in ATTRIBUTES)


class RowsXmlWorksheet(Worksheet):
    """A worksheet that writes its data rows from XML built per column, not cell by cell.

    XlsxWriter spends about 5 µs per cell in Python (pandas' ``to_excel`` included), which puts a
    150,000-row patch table at half a minute. Here each column's distinct values become ready
    ``<c>`` elements once (text goes to the workbook's shared strings), and a row is a join of
    its cells' elements. Everything else in the sheet (columns, panes, filter, conditional
    formats, hyperlinks) and the whole package stay XlsxWriter's.

    Until :meth:`load_rows` succeeds, the sheet is an ordinary XlsxWriter worksheet: cells
    written through the public API are written as XlsxWriter writes them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.progress: StageProgress | None = None  # told of the rows as they are written
        self.header_xml = ""
        self.columns: list[tuple[np.ndarray, np.ndarray | None]] = []
        self.row_count = 0
        self.prepared = False

    def load_rows(
        self,
        plans: Sequence[ColumnPlan],
        headers: Sequence[str],
        start: int,
        stop: int,
        linked: np.ndarray | None,
        formats: tuple[Format, Format, Format],
    ) -> bool:
        """Prepare rows ``start:stop`` of the planned columns, below a header row.

        Args:
            plans: the table's columns, planned.
            headers: the header row's texts.
            start: the first row of the plans to write.
            stop: the row after the last.
            linked: which rows of the ``kb`` column get the link format (None: no links).
            formats: the header's, the times' and the links' formats.

        Returns:
            True if the rows are ready; False if this XlsxWriter did not behave as expected,
            in which case nothing is prepared and the caller writes the cells itself.
        """
        try:
            self._prepare(plans, headers, start, stop, linked, formats)
        except Exception as error:  # any surprise from XlsxWriter's internals
            log.debug("writing the sheet %s cell by cell: %r", self.name, error)
            self.header_xml, self.columns, self.row_count = "", [], 0
            self.prepared = False
            return False
        self.prepared = True
        return True

    def _prepare(
        self,
        plans: Sequence[ColumnPlan],
        headers: Sequence[str],
        start: int,
        stop: int,
        linked: np.ndarray | None,
        formats: tuple[Format, Format, Format],
    ) -> None:
        strings = self.str_table
        if not isinstance(strings, SharedStringTable) or self.constant_memory:
            raise TypeError("not the shared-string table and in-memory sheet expected")
        header_format, date_format, link_format = formats
        header_xf, date_xf, link_xf = (
            int(f._get_xf_index()) for f in (header_format, date_format, link_format)
        )
        index = strings._get_shared_string_index
        self.header_xml = '<row r="1">' + "".join(
            f'<c r="{xl_col_to_name(col)}1" s="{header_xf}" t="s"><v>{int(index(text))}</v></c>'
            for col, text in enumerate(headers)
        )
        self.header_xml += "</row>"
        self.columns = []
        for col, plan in enumerate(plans):
            letter = xl_col_to_name(col)
            style = f' s="{date_xf}"' if plan.kind == "datetime" else ""
            lookup = np.array([cell_xml(letter, v, style, index) for v in plan.values], object)
            codes = plan.codes[start:stop]
            if linked is not None and plan.name == "kb":
                links = np.array(
                    [cell_xml(letter, v, f' s="{link_xf}"', index) for v in plan.values], object
                )
                self.columns.append((np.where(linked, links[codes], lookup[codes]), None))
            else:
                self.columns.append((codes, lookup))
        self.row_count = stop - start
        self._check_dimensions(0, 0)
        self._check_dimensions(max(self.row_count, 1), max(len(plans) - 1, 0))

    def _write_sheet_data(self) -> None:
        if not self.prepared:
            super()._write_sheet_data()
            return
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
            if self.progress is not None:
                self.progress.count(self.name, last, self.row_count)
        self.fh.write("</sheetData>")


def cell_xml(letter: str, value: object, style: str, index: Callable[[str], int]) -> str:
    """The ``<c>`` element of one cell value, its row number left as :data:`ROW_MARK`.

    ``index`` gives a text's position in the shared-string table.
    """
    if value is None:
        return ""
    ref = f'<c r="{letter}{ROW_MARK}"{style}'
    if isinstance(value, bool):
        return f'{ref} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, float):
        return f"{ref}><v>{value:.16G}</v></c>"
    return f'{ref} t="s"><v>{int(index(str(value)))}</v></c>'


FAST_SHEET_DATA = fast_path_supported()
