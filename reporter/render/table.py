"""A table as the HTML and PDF templates draw it: columns, the rows shown, and what is left out."""

from dataclasses import dataclass
from typing import Any, cast

import pandas as pd


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


def records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` rows of ``frame`` as dicts (categoricals read as plain values)."""
    head = frame if limit is None else frame.head(limit)
    return cast(list[dict[str, Any]], head.to_dict("records"))
