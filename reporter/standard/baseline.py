"""The baseline CSV (SPEC 4a): the patches every server they apply to must have, by when.

One row per required patch: ``patch, title, classification, severity, released, applies_to``,
read by the inventory's rules (:mod:`reporter.csvinput`). A row that cannot be used is a
problem with its line number; a file that cannot be used at all raises
:class:`~reporter.errors.BaselineError` (exit 2, before anything is fetched).

>>> baseline = load_baseline("baseline.csv")  # doctest: +SKIP
>>> len(baseline.rows) + len(baseline.problems) == baseline.data_rows  # doctest: +SKIP
True
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from reporter.csvinput import BadRecord, Columns, named_columns, read_csv, shown
from reporter.errors import BaselineError
from reporter.problems import INVALID_BASELINE_ROW, Problem
from reporter.standard.patches import Alternative, parse_alternatives

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "patch": ("patch", "kb", "package", "update", "patch_id", "required_patch"),
    "title": ("title", "name", "description"),
    "classification": ("classification", "class", "category"),
    "severity": ("severity", "msrc_severity", "rating"),
    "released": ("released", "release_date", "released_on", "published", "date"),
    "applies_to": ("applies_to", "applies", "applicability", "scope"),
}
REQUIRED_COLUMNS = ("patch", "released")
SEVERITIES = ("Critical", "Important", "Moderate", "Low")
NO_SEVERITY = ""
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Days from release to deadline, per severity ("" for none): SPEC 4a's defaults.
DEFAULT_SLA_DAYS = {"Critical": 30, "Important": 30, "Moderate": 90, "Low": 180, NO_SEVERITY: 30}


@dataclass(frozen=True)
class BaselineRow:
    """One required patch."""

    line: int
    patch: str  # as written, alternatives joined with "|"
    alternatives: tuple[Alternative, ...]
    title: str
    classification: str
    severity: str  # one of SEVERITIES, or "" for none
    released: date
    applies_to: tuple[tuple[str, str], ...]  # (attribute as written, glob); empty: by OS

    @property
    def windows(self) -> bool:
        """KB numbers (Windows updates) rather than Linux packages."""
        return self.alternatives[0].is_kb

    @property
    def released_at(self) -> datetime:
        """The release date as midnight UTC."""
        return datetime(self.released.year, self.released.month, self.released.day, tzinfo=UTC)

    @property
    def label(self) -> str:
        """How reasons name it: its patch, as written."""
        return self.patch


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline: the usable rows, the rows that are problems, and the file's hash."""

    path: Path
    sha256: str
    rows: list[BaselineRow]
    problems: list[Problem]
    data_rows: int  # non-blank data rows read (rows + problems reconcile to it)


def parse_date(text: str, what: str) -> date:
    """An ISO 8601 date (``2026-10-14``) from an input file (SPEC 9).

    Raises:
        ValueError: naming ``what`` and the value.
    """
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{what} {shown(text)} is not an ISO date (YYYY-MM-DD)")


def date_cell(
    columns: Columns, cells: list[str], field: str, missing: str, reasons: list[str]
) -> date | None:
    """The required ISO date in ``field`` of a row, or None with why added to ``reasons``
    (``missing`` when the cell is empty)."""
    text = columns.cell(cells, field)
    if not text:
        reasons.append(missing)
        return None
    try:
        return parse_date(text, field)
    except ValueError as error:
        reasons.append(str(error))
        return None


def parse_applies_to(text: str) -> tuple[tuple[str, str], ...]:
    """``attribute=glob`` terms joined with ``;`` (empty text: none).

    Raises:
        ValueError: a term without ``=`` or without an attribute name.
    """
    terms = []
    for term in (part.strip() for part in text.split(";")):
        if not term:
            continue
        attribute, equals, pattern = term.partition("=")
        if not equals or not attribute.strip():
            raise ValueError(
                f"applies_to term {shown(term)} is not attribute=glob (like os=Windows Server*)"
            )
        terms.append((attribute.strip(), pattern.strip()))
    return tuple(terms)


def _row(line: int, cells: list[str], columns: Columns) -> BaselineRow | Problem:
    """One data row as a :class:`BaselineRow`, or the :class:`Problem` that stops it."""
    reasons = []
    patch = columns.cell(cells, "patch")
    alternatives: tuple[Alternative, ...] = ()
    if not patch:
        reasons.append("no patch")
    else:
        try:
            alternatives = parse_alternatives(patch)
        except ValueError as error:
            reasons.append(str(error))
    severity_text = columns.cell(cells, "severity")
    severity = next((s for s in SEVERITIES if s.casefold() == severity_text.casefold()), None)
    if severity_text and severity is None:
        reasons.append(
            f"severity {shown(severity_text)} is not one of {', '.join(SEVERITIES)} (or empty)"
        )
    released = date_cell(columns, cells, "released", "no release date", reasons)
    applies_to: tuple[tuple[str, str], ...] = ()
    try:
        applies_to = parse_applies_to(columns.cell(cells, "applies_to"))
    except ValueError as error:
        reasons.append(str(error))
    reasons += columns.shape_problems(cells)
    if reasons or released is None:
        return Problem(INVALID_BASELINE_ROW, "; ".join(reasons), line=line)
    return BaselineRow(
        line=line,
        patch="|".join(str(alternative) for alternative in alternatives),
        alternatives=alternatives,
        title=columns.cell(cells, "title"),
        classification=columns.cell(cells, "classification"),
        severity=severity or NO_SEVERITY,
        released=released,
        applies_to=applies_to,
    )


def load_baseline(path: str | Path) -> Baseline:
    """Read a baseline CSV (SPEC 4a).

    A repeat of a row's patch and ``applies_to`` is a problem (the first row is used).

    Raises:
        BaselineError: the file is missing, unreadable, not UTF-8 CSV, empty, has no data rows,
            or no patch or released column.
    """

    def layout(file: Path, header: list[str]) -> Columns:
        return named_columns(
            file, header, COLUMN_NAMES, REQUIRED_COLUMNS, "baseline file", BaselineError
        )

    table = read_csv(path, "baseline file", BaselineError, layout)
    rows: list[BaselineRow] = []
    problems: list[Problem] = []
    first: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for record in table.records:
        if isinstance(record, BadRecord):
            problems.append(Problem(INVALID_BASELINE_ROW, record.reason, line=record.line))
            continue
        row = _row(record.line, record.cells, table.layout)
        if isinstance(row, Problem):
            problems.append(row)
            continue
        key = (row.patch.casefold(), tuple((a.casefold(), p) for a, p in row.applies_to))
        if key in first:
            reason = (
                f"the same patch and applies_to as line {first[key]}; line {first[key]} is used"
            )
            problems.append(Problem(INVALID_BASELINE_ROW, reason, line=row.line))
            continue
        first[key] = row.line
        rows.append(row)
    return Baseline(table.path, table.sha256, rows, problems, table.data_rows)
