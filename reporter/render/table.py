"""A table as the HTML and PDF templates draw it: columns, the rows shown, and what is left out."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """One table column: which field, its header, how to format it (a filter kind).

    ``kind`` is one of text, id (an identifier: it breaks only after ``.``, ``-`` or ``_``),
    number, time, duration, yes_no, status, kb, code. ``sub`` names a second field shown under
    the value in small type (formatted as ``sub_kind``), for tables that must stay narrow.
    """

    key: str
    label: str
    kind: str = "text"
    width: str | None = None
    sub: str | None = None
    sub_kind: str = "text"


@dataclass
class Table:
    """Rows to show (already capped), with how many there are in all and where the rest is."""

    id: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: int
    empty: str = "None."
    note: str | None = None
    interactive: bool = True
    css: str = ""
