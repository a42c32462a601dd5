"""The CSV export: one row per patch attempt, for analysts (SPEC 5).

Cell rules, shared by :func:`render_csv` and :func:`frame_to_csv_bytes`:

- times as ISO 8601 UTC to the second (``2026-10-14T03:12:09Z``);
- booleans as ``true`` / ``false``; whole numbers without a decimal point;
- an unknown value (NA, NaT, None, NaN) as an empty field;
- lists (a ``kbs`` column given as a list) joined with ``;``;
- every text cell starting with ``=``, ``+``, ``-``, ``@``, tab, CR or LF gets a leading ``'``
  (OWASP CSV injection, SPEC 7). Numbers are never touched: ``-2`` in a numeric column stays
  a number, ``-2`` in a text column becomes ``'-2``.

The file is UTF-8 **without** a byte-order mark and with ``\\n`` line ends. The CSV is the
analysts' export, read mostly by pandas, scripts and databases, where a BOM turns the first
header into ``\\ufeffaccount_alias`` and breaks ``df["account_alias"]``. Spreadsheet users get
the typed Excel workbook, which has no encoding question at all.

Speed (SPEC 8: >= 300,000 rows/s): values repeat massively across a fleet, so each column is
factorised once, and the formatting, neutralising and quoting run on its distinct values only;
a row is then a plain join of ready fields, written in chunks (which also bounds memory).
"""

import io
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from reporter.fileio import atomic_write
from reporter.model import PATCH_COLUMNS, ReportModel
from reporter.render.cells import LIST_SEPARATOR, factorize_column, neutralise

# Rows converted and written per step: big enough for the C writer to dominate, small
# enough that a million-row export never holds every cell as text at once.
CHUNK_ROWS = 65_536
QUOTE_TRIGGERS = (",", '"', "\r", "\n")


def render_csv(model: ReportModel, path: Path) -> Path:
    """Write every patch attempt of ``model`` to ``path`` as CSV, atomically.

    Columns: ``PATCH_COLUMNS`` in the SPEC's order, then the inventory attributes.

    Args:
        model: The report model.
        path: Where to write the file (replaced whole, or left as it was on failure).

    Returns:
        ``path``.
    """
    columns = PATCH_COLUMNS + [c for c in model.attribute_columns if c not in PATCH_COLUMNS]
    frame = model.patches.reindex(columns=columns)
    with atomic_write(Path(path), "w", encoding="utf-8", newline="") as handle:
        write_frame(frame, handle)
    return Path(path)


def frame_to_csv_bytes(df: pd.DataFrame) -> bytes:
    """Return ``df`` as UTF-8 CSV bytes (header, then rows), with the cell rules above.

    Used for the tables attached to the archival PDF.

    >>> frame_to_csv_bytes(pd.DataFrame({"a": ["=1", None], "b": [True, False]}))
    b"a,b\\n'=1,true\\n,false\\n"
    """
    buffer = io.StringIO()
    write_frame(df, buffer)
    return buffer.getvalue().encode("utf-8")


def write_frame(df: pd.DataFrame, handle: IO[str]) -> None:
    """Write ``df``'s header and rows to an open text ``handle`` (opened with ``newline=""``)."""
    handle.write(",".join(quote(neutralise(str(name))) for name in df.columns) + "\n")
    columns = merge_neighbours([column_cells(df.iloc[:, i]) for i in range(df.shape[1])], len(df))
    for start in range(0, len(df), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        chunk = [lookup[codes[start:stop]] for codes, lookup in columns]
        # The lookups hold ready-quoted fields, so a row is a plain join: several times
        # faster than csv.writer, which would re-examine every cell.
        handle.write("\n".join(map(",".join, zip(*chunk, strict=True))))
        handle.write("\n")


def merge_neighbours(
    columns: list[tuple[np.ndarray, np.ndarray]], rows: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Join neighbouring columns into one ready ``a,b`` field where their value pairs are few.

    The execution's six columns, or a patch's title with its KB, result and HRESULT texts,
    repeat together: joined once per distinct combination, they leave each row a few fields
    to join instead of two dozen.
    """
    limit = max(256, rows // 8)
    merged: list[tuple[np.ndarray, np.ndarray]] = []
    for codes, lookup in columns:
        if merged:
            left_codes, left = merged[-1]
            pairs, combos = pd.factorize(left_codes.astype(np.int64) * len(lookup) + codes)
            if len(combos) <= limit:
                texts = [
                    left[combo // len(lookup)] + "," + lookup[combo % len(lookup)]
                    for combo in combos.tolist()
                ]
                merged[-1] = (pairs, np.array(texts, dtype=object))
                continue
        merged.append((codes, lookup))
    return merged


def quote(text: str) -> str:
    """``text`` as one CSV field: quoted (inner quotes doubled) when it holds ``,`` ``"`` CR or LF.

    The same minimal quoting as ``csv.QUOTE_MINIMAL``.
    """
    if any(char in text for char in QUOTE_TRIGGERS):
        return '"' + text.replace('"', '""') + '"'
    return text


def column_cells(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Plan one column's cells: ``lookup[codes]`` is every cell's text.

    ``codes`` numbers each cell's distinct value; ``lookup`` holds the quoted CSV field of each
    distinct value and ends with ``""``, the code of an unknown value.
    """
    codes, uniques = factorize_column(series)
    texts = [quote(text) for text in distinct_texts(uniques)]
    lookup = np.empty(len(texts) + 1, dtype=object)
    lookup[: len(texts)] = texts
    lookup[-1] = ""
    return np.where(codes < 0, len(texts), codes), lookup


def distinct_texts(uniques: Any) -> list[str]:
    """The CSV text of each distinct (never unknown) value, by the column's type.

    ``uniques`` is what :func:`factorize_column` found: an Index or an ExtensionArray, whose
    dtype says how to format it.
    """
    dtype = getattr(uniques, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        # The used categories, in order of appearance: format them as their own type.
        return distinct_texts(uniques.categories.take(uniques.codes))
    if dtype is not None and pd.api.types.is_datetime64_any_dtype(dtype):
        index = pd.DatetimeIndex(uniques)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        seconds = index.to_numpy().astype("datetime64[s]")
        return np.datetime_as_string(seconds, unit="s", timezone="UTC").tolist()
    if dtype is not None and pd.api.types.is_bool_dtype(dtype):
        return ["true" if value else "false" for value in uniques]
    if dtype is not None and pd.api.types.is_integer_dtype(dtype):
        return [str(int(value)) for value in uniques]
    if dtype is not None and pd.api.types.is_float_dtype(dtype):
        return [number_text(float(value)) for value in uniques]
    return [csv_text(value) for value in uniques]


def csv_text(value: object) -> str:
    """The CSV text of one known value of a text (object) column."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return number_text(float(value))
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Iterable) and not isinstance(value, bytes | dict):
        return neutralise(LIST_SEPARATOR.join(str(item) for item in value))
    return neutralise(str(value))


def number_text(value: float) -> str:
    """A float as text: whole numbers without ``.0``; NaN and infinities as an empty field."""
    if not math.isfinite(value):
        return ""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)
