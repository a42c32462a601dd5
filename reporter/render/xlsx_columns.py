"""Each column of a workbook table planned once, on its distinct values (see :mod:`excel`).

A fleet's columns repeat massively (the same KB on every server, "Succeeded" on almost every
patch): each distinct value becomes its Excel cell value once (text neutralised and cut to
Excel's cell limit, times as serial day numbers), and every row picks it by code.
"""

import math
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from reporter.render.cells import factorize_column, join_list, neutralise

EXCEL_MAX_TEXT = 32_767  # UTF-16 units per cell
EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")  # serial day 0 of the 1900 system


@dataclass
class ColumnPlan:
    """One column, planned once: ``values[codes]`` is every cell (None = blank).

    ``values`` holds a cell value per distinct value of the column (text neutralised, times as
    Excel serial numbers) and ends with None, which code -1 (unknown) picks.
    """

    name: str
    kind: str  # datetime | number | boolean | text
    codes: np.ndarray
    values: np.ndarray


def plan_column(name: str, series: pd.Series, zone: str = "UTC") -> ColumnPlan:
    """Plan a column by its type; the conversion runs on distinct values only.

    Times become Excel date-times in ``zone`` (an IANA name).
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        inner = dtype.categories.dtype
        if not (pd.api.types.is_object_dtype(inner) or pd.api.types.is_string_dtype(inner)):
            return plan_column(name, series.astype(inner), zone)
    codes, uniques = factorize_column(series)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        kind, cells = "datetime", excel_serials(pd.DatetimeIndex(uniques), zone)
    elif pd.api.types.is_bool_dtype(dtype):
        kind, cells = "boolean", [bool(value) for value in uniques]
    elif pd.api.types.is_numeric_dtype(dtype):
        numbers = np.asarray(uniques, dtype="float64")
        kind, cells = "number", [v if math.isfinite(v) else None for v in numbers.tolist()]
    else:
        kind, cells = "text", [excel_text(value) for value in uniques]
    values = np.empty(len(cells) + 1, dtype=object)
    values[: len(cells)] = cells
    values[-1] = None
    return ColumnPlan(name, kind, codes.astype(np.int32), values)


def excel_serials(index: pd.DatetimeIndex, zone: str = "UTC") -> list:
    """Times as Excel serial day numbers in ``zone`` (which the cell cannot say: the header
    does); unknown as None. Naive times are taken to be UTC."""
    if index.tz is None:
        index = index.tz_localize("UTC")
    index = index.tz_convert(zoneinfo.ZoneInfo(zone)).tz_localize(None)
    days = (index.to_numpy("datetime64[ns]") - EXCEL_EPOCH) / np.timedelta64(1, "D")
    cells = [None if value != value else value for value in days.tolist()]
    # Before 1900-03-01 Excel's serials are off by its 1900 leap-year bug: write such a
    # (never expected) time as text rather than as a wrong date.
    for position in np.flatnonzero(days < 61):
        cells[position] = index[int(position)].isoformat()
    return cells


def excel_text(value: object) -> str | bool | float | None:
    """One known value of a text column as a cell value (text neutralised; "" as blank)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    value = join_list(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    text = neutralise(str(value))
    if len(text) > EXCEL_MAX_TEXT // 2:
        # Cut to the cell limit here: XlsxWriter would cut too, but then stop the row.
        encoded = text.encode("utf-16-le")[: EXCEL_MAX_TEXT * 2]
        text = encoded.decode("utf-16-le", errors="ignore")
    return text or None
