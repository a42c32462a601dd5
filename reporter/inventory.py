"""The inventory CSV: which servers and executions to report, and which rows cannot be used.

Reading rules (SPEC 2):

- UTF-8 with or without a BOM; lines end in CRLF, LF or a lone CR; quoted fields may hold
  commas, quotes and line breaks. Cells are trimmed. Blank lines, and lines of only
  delimiters and spaces, are skipped.
- Comma-separated. When the header line has no comma but has ``;`` or a tab (as spreadsheet
  programs write CSV in some locales), that character separates the whole file.
- Headers match case-insensitively with spaces, ``_`` and ``-`` ignored (see
  :data:`COLUMN_NAMES`). Every other named column is a server attribute; columns with an
  empty header are ignored.
- A row that cannot be used becomes a :class:`~reporter.problems.Problem` with its line
  number, and the other rows go on. A repeat of (alias, server, execution), compared
  case-insensitively as CLC does, is a ``duplicate row`` problem: the first row is used.
- A file that cannot be used at all raises :class:`~reporter.errors.InventoryError`.

Every data row ends in exactly one place: ``len(rows) + len(problems) == data_rows``.
"""

from dataclasses import dataclass
from pathlib import Path

from reporter.csvinput import (
    BadRecord,
    clipped,
    header_key,
    read_csv,
    row_shape_problems,
    shown,
)
from reporter.errors import InventoryError
from reporter.problems import DUPLICATE_ROW, INVALID_ROW, Problem
from reporter.records import (
    ALIAS_PATTERN,
    EXECUTION_ID_PATTERN,
    MAX_ALIAS,
    MAX_EXECUTION_ID,
    MAX_SERVER_ID,
    SERVER_ID_PATTERN,
)

# Accepted header names for each field (SPEC 2); spaces, "_" and "-" are ignored when matching.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "server_id": ("server_id", "server", "server id", "serverid", "server_name", "servername"),
    "execution_id": ("execution_id", "execution", "execution id", "executionid"),
    "account_alias": ("account_alias", "alias", "account", "accountalias"),
}

_FIELD_WORDS = {
    "server_id": "server",
    "execution_id": "execution",
    "account_alias": "account alias",
}
_FIELD_BY_KEY = {header_key(n): field for field, names in COLUMN_NAMES.items() for n in names}


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One usable inventory row: an execution to fetch, or a server whose executions to list."""

    line: int  # 1-based physical line number in the file of the row's start
    server_id: str
    execution_id: str | None  # None = discover via the summary endpoint
    account_alias: str | None  # None = use --account, else the login's accountAlias
    attributes: dict[str, str]  # every other column, header as written (trimmed), value trimmed


@dataclass(frozen=True)
class Inventory:
    """A loaded inventory: the usable rows, the rows that are problems, and the file's hash."""

    path: Path
    sha256: str  # of the file's bytes
    rows: list[InventoryRow]  # valid rows, in file order, duplicates removed
    problems: list[Problem]  # rows not used, with line numbers and reasons
    attribute_columns: list[str]  # in file order
    data_rows: int  # non-blank data rows read (rows + problems reconcile to it)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each field sits in a row, from the header."""

    width: int
    server: int
    execution: int | None
    alias: int | None
    attributes: list[tuple[int, str]]  # (index, header as written)


def _layout(path: Path, header: list[str]) -> _Layout:
    """Map the header's columns to fields and attributes; reject ambiguous or unusable ones."""
    fields: dict[str, tuple[int, str]] = {}
    attributes: list[tuple[int, str]] = []
    attribute_keys: dict[str, str] = {}
    for index, name in enumerate(header):
        if not name:
            continue  # an unnamed column (often trailing commas) carries nothing to report
        key = header_key(name)
        field = _FIELD_BY_KEY.get(key)
        if field is not None:
            if field in fields:
                raise InventoryError(
                    f"inventory file {path}: columns {shown(fields[field][1])} and "
                    f"{shown(name)} both name the {_FIELD_WORDS[field]}"
                )
            fields[field] = (index, name)
        elif key in attribute_keys:
            raise InventoryError(
                f"inventory file {path}: columns {shown(attribute_keys[key])} and "
                f"{shown(name)} have the same name"
            )
        else:
            attribute_keys[key] = name
            attributes.append((index, name))
    if "server_id" not in fields:
        found = ", ".join(shown(name) for name in header[:10] if name) or "none"
        more = f" and {len(header) - 10} more" if len(header) > 10 else ""
        accepted = ", ".join(COLUMN_NAMES["server_id"])
        raise InventoryError(
            f"inventory file {path} has no server_id column (columns found: {found}{more}; "
            f"accepted names: {accepted})"
        )

    def index_of(field: str) -> int | None:
        return fields[field][0] if field in fields else None

    return _Layout(
        len(header),
        fields["server_id"][0],
        index_of("execution_id"),
        index_of("account_alias"),
        attributes,
    )


def _id_problems(server: str, execution: str, alias: str) -> list[str]:
    """Why the IDs of a row cannot be used (empty list: they can)."""
    reasons = []
    if not server:
        reasons.append("no server ID")
    elif len(server) > MAX_SERVER_ID:
        reasons.append(f"server ID is {len(server)} characters long; the limit is {MAX_SERVER_ID}")
    elif not SERVER_ID_PATTERN.fullmatch(server):
        reasons.append(f"server ID {shown(server)} may only contain letters, digits and '-'")
    if len(execution) > MAX_EXECUTION_ID:
        reasons.append(
            f"execution ID is {len(execution)} characters long; the limit is {MAX_EXECUTION_ID}"
        )
    elif execution and not EXECUTION_ID_PATTERN.fullmatch(execution):
        reasons.append(
            f"execution ID {shown(execution)} is not letters+digit-digits (like VA1-132457)"
        )
    if len(alias) > MAX_ALIAS:
        reasons.append(f"account alias is {len(alias)} characters long; the limit is {MAX_ALIAS}")
    elif alias and not ALIAS_PATTERN.fullmatch(alias):
        reasons.append(f"account alias {shown(alias)} may only contain letters and digits")
    return reasons


def _duplicate_reason(first: InventoryRow, attributes: dict[str, str]) -> str:
    """The reason given for a row that repeats ``first``'s (alias, server, execution)."""
    changed = [name for name, value in attributes.items() if value != first.attributes[name]]
    if not changed:
        return f"same as line {first.line}"
    differences = "; ".join(
        f"{name} {shown(attributes[name])} here, {shown(first.attributes[name])} there"
        for name in changed[:3]
    )
    more = f"; and {len(changed) - 3} more" if len(changed) > 3 else ""
    return (
        f"same server and execution as line {first.line} but with different attributes "
        f"({differences}{more}); line {first.line} is used"
    )


def load_inventory(path: str | Path) -> Inventory:
    """Read an inventory CSV (SPEC 2).

    The example needs a file, so it is not run as a test:

    >>> inventory = load_inventory("servers.csv")  # doctest: +SKIP
    >>> len(inventory.rows) + len(inventory.problems) == inventory.data_rows  # doctest: +SKIP
    True

    Raises:
        InventoryError: the file is missing, unreadable, not UTF-8 CSV, empty, has no data
            rows or no server_id column, or a quoted value is never closed.
    """
    table = read_csv(path, "inventory file", InventoryError, _layout)
    layout = table.layout
    rows: list[InventoryRow] = []
    problems: list[Problem] = []
    first_by_key: dict[tuple[str, str, str], InventoryRow] = {}
    for record in table.records:
        if isinstance(record, BadRecord):
            problems.append(Problem(INVALID_ROW, record.reason, line=record.line))
            continue
        row = _row(record.line, record.cells, layout)
        if isinstance(row, Problem):
            problems.append(row)
            continue
        # CLC IDs are case-insensitive: "va1srv01" and "VA1SRV01" are the same server.
        alias, execution = (row.account_alias or "").upper(), (row.execution_id or "").upper()
        key = (alias, row.server_id.upper(), execution)
        first = first_by_key.get(key)
        if first is None:
            first_by_key[key] = row
            rows.append(row)
        else:
            problems.append(
                Problem(
                    DUPLICATE_ROW,
                    _duplicate_reason(first, row.attributes),
                    line=row.line,
                    account_alias=row.account_alias,
                    server_id=row.server_id,
                    execution_id=row.execution_id,
                )
            )
    attributes = [name for _, name in layout.attributes]
    return Inventory(table.path, table.sha256, rows, problems, attributes, table.data_rows)


def _row(line: int, cells: list[str], layout: _Layout) -> InventoryRow | Problem:
    """One data row as an :class:`InventoryRow`, or the :class:`Problem` that stops it."""
    if len(cells) < layout.width:
        cells = cells + [""] * (layout.width - len(cells))
    server = cells[layout.server].strip()
    execution = cells[layout.execution].strip() if layout.execution is not None else ""
    alias = cells[layout.alias].strip() if layout.alias is not None else ""
    reasons = _id_problems(server, execution, alias)
    reasons += row_shape_problems(cells, layout.width)
    if reasons:
        return Problem(
            INVALID_ROW,
            "; ".join(reasons),
            line=line,
            account_alias=clipped(alias),
            server_id=clipped(server),
            execution_id=clipped(execution),
        )
    return InventoryRow(
        line,
        server,
        execution or None,
        alias or None,
        {name: cells[index].strip() for index, name in layout.attributes},
    )
