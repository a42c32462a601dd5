"""What every renderer does to one cell's value: join lists, neutralise formulas."""

import numpy as np
import pandas as pd

# Cells starting with these are read as formulas by spreadsheet programs (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
LIST_SEPARATOR = ";"  # how a list cell (``kbs``) reads in every format
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
