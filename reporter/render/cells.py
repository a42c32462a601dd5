"""What every renderer does to one cell's value: join lists, neutralise formulas, cut long text.

The CSV and the Excel workbook keep every value whole (SPEC 5), only neutralised (SPEC 7); the
HTML and PDF cut a cell's text at :data:`CELL_TEXT_LIMIT` characters with a visible ellipsis,
so that no payload (a 1 MiB patch title) can make a page slow to lay out or unreadable.
"""

import numpy as np
import pandas as pd

# Cells starting with these are read as formulas by spreadsheet programs (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
LIST_SEPARATOR = ";"  # how a list cell (``kbs``) reads in every format
CELL_TEXT_LIMIT = 300  # characters of one HTML or PDF cell, the ellipsis included
ELLIPSIS = "…"
KB_ARTICLE_URL = "https://support.microsoft.com/help/{}"  # the number without "KB"


def neutralise(value: str) -> str:
    """Return ``value`` with a leading ``'`` if a spreadsheet would read it as a formula.

    >>> neutralise("=HYPERLINK(1)")
    "'=HYPERLINK(1)"
    >>> neutralise("KB123")
    'KB123'
    """
    if value and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def join_list(value: object) -> object:
    """A list or tuple cell as ``;``-joined text (how ``kbs`` reads); anything else unchanged.

    >>> join_list(["KB1", "KB2"]), join_list("KB1")
    ('KB1;KB2', 'KB1')
    """
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(item) for item in value)
    return value


def cut_text(text: str, limit: int = CELL_TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when something was cut.

    >>> cut_text("abcdef", 4)
    'abc…'
    >>> cut_text("abc", 4)
    'abc'
    """
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def factorize_column(
    series: pd.Series,
) -> tuple[np.ndarray, pd.Index | pd.api.extensions.ExtensionArray]:
    """``pd.factorize`` of one column that copes with unhashable cells (lists) by joining them.

    Returns every cell's code (-1 for an unknown value) and the distinct values, so that a
    renderer converts each distinct value once.
    """
    try:
        return pd.factorize(series, use_na_sentinel=True)
    except TypeError:
        return pd.factorize(series.map(join_list, na_action="ignore"), use_na_sentinel=True)
