"""Reading back what reporter wrote, for assertions."""


def sheet_rows(workbook, name: str) -> list[dict]:
    """The rows of a worksheet (openpyxl, values only) as dicts keyed by its header row."""
    rows = workbook[name].iter_rows(values_only=True)
    header = next(rows)
    return [dict(zip(header, row, strict=True)) for row in rows if any(v is not None for v in row)]
