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

import csv
import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
FIELD_LIMIT = 64 * 1024  # characters in one value; a larger one makes its row a problem
# Reading stops at this many characters per physical line, so a file without line breaks
# cannot fill the memory; the rest of such a line is skipped and its row is a problem.
LINE_LIMIT = 1024 * 1024
_SCAN_LIMIT = 64 * 1024 * 1024  # how far to look for the first non-UTF-8 byte to report it

_FIELD_WORDS = {
    "server_id": "server",
    "execution_id": "execution",
    "account_alias": "account alias",
}


def _header_key(name: str) -> str:
    """A header name reduced for matching: ``"Server-ID"`` -> ``"serverid"``."""
    return re.sub(r"[\s_-]+", "", name).casefold()


_FIELD_BY_KEY = {_header_key(n): field for field, names in COLUMN_NAMES.items() for n in names}


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


class _LineTooLong(Exception):
    """A physical line longer than :data:`LINE_LIMIT` (already skipped)."""


class _HashingReader(io.RawIOBase):
    """A binary stream that feeds every byte read through it to SHA-256."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
        return count


class _Lines:
    """The file's physical lines, with their ends, for ``csv.reader``; counts lines handed out."""

    def __init__(self, text: io.TextIOWrapper, path: Path) -> None:
        self._text = text
        self._path = path
        self._ahead: list[str | None] = []  # read by first_content_line, not yet handed out
        self.number = 0

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self._ahead.pop(0) if self._ahead else self._read()
        if line == "":
            raise StopIteration
        self.number += 1
        if line is None:
            raise _LineTooLong
        return line

    def _read(self) -> str | None:
        """The next line ("" at the end), or None for an over-long line (then skipped)."""
        line = self._text.readline(LINE_LIMIT)
        if "\0" in line:
            raise _not_csv(self._path)
        if len(line) < LINE_LIMIT or line.endswith(("\n", "\r")):
            return line
        while (rest := self._text.readline(LINE_LIMIT)) and not rest.endswith(("\n", "\r")):
            pass
        return None

    def first_content_line(self) -> str | None:
        """Read ahead to the first line with more than delimiters and spaces (not consumed)."""
        while (line := self._read()) != "":
            self._ahead.append(line)
            if line is None or line.strip(" \t\r\n,;"):
                return line
        return None


def _not_csv(path: Path) -> InventoryError:
    """The error for a file holding NUL bytes, which no text CSV does."""
    return InventoryError(
        f"inventory file {path} is not a CSV file (it contains NUL bytes: binary data or "
        "UTF-16 text); save it as UTF-8 CSV"
    )


def _shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for a message: clipped, with control characters escaped."""
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def _clipped(value: str) -> str | None:
    """``value`` short enough to carry in a problem (None if empty)."""
    return (value if len(value) <= 100 else value[:99] + "…") or None


def _delimiter(header_line: str | None) -> str:
    """Comma, unless the header line has no comma but has ';' or a tab."""
    if not header_line or "," in header_line:
        return ","
    semicolons, tabs = header_line.count(";"), header_line.count("\t")
    if semicolons or tabs:
        return ";" if semicolons >= tabs else "\t"
    return ","


def _open(path: Path) -> BinaryIO:
    """Open the inventory for reading, or say in one line why it cannot be."""
    try:
        # Non-blocking, so that a FIFO given by mistake is refused below instead of hanging
        # the run until something writes to it; reads from a regular file are unaffected.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InventoryError(f"inventory file {path} does not exist") from None
    except IsADirectoryError:
        raise InventoryError(f"inventory {path} is a folder, not a CSV file") from None
    except PermissionError:
        if os.path.isdir(path):
            raise InventoryError(f"inventory {path} is a folder, not a CSV file") from None
        raise InventoryError(f"inventory {path} is not readable (permission denied)") from None
    except OSError as error:
        raise InventoryError(f"inventory file {path} cannot be read: {error.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder, not a CSV file" if stat.S_ISDIR(mode) else "not a regular file"
        raise InventoryError(f"inventory {path} is {kind}")
    return os.fdopen(fd, "rb")


def _utf8_error(path: Path) -> str:
    """Where the file stops being UTF-8, e.g. "byte 0xff at offset 12, line 2"."""
    with path.open("rb") as handle:
        data = handle.read(_SCAN_LIMIT)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.end < len(data) or len(data) < _SCAN_LIMIT:
            before = data[: error.start]
            line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
            return f"byte 0x{data[error.start]:02x} at offset {error.start}, line {line}"
    return f"after the first {_SCAN_LIMIT >> 20} MiB"


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
        key = _header_key(name)
        field = _FIELD_BY_KEY.get(key)
        if field is not None:
            if field in fields:
                raise InventoryError(
                    f"inventory file {path}: columns {_shown(fields[field][1])} and "
                    f"{_shown(name)} both name the {_FIELD_WORDS[field]}"
                )
            fields[field] = (index, name)
        elif key in attribute_keys:
            raise InventoryError(
                f"inventory file {path}: columns {_shown(attribute_keys[key])} and "
                f"{_shown(name)} have the same name"
            )
        else:
            attribute_keys[key] = name
            attributes.append((index, name))
    if "server_id" not in fields:
        found = ", ".join(_shown(name) for name in header[:10] if name) or "none"
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
        reasons.append(f"server ID {_shown(server)} may only contain letters, digits and '-'")
    if len(execution) > MAX_EXECUTION_ID:
        reasons.append(
            f"execution ID is {len(execution)} characters long; the limit is {MAX_EXECUTION_ID}"
        )
    elif execution and not EXECUTION_ID_PATTERN.fullmatch(execution):
        reasons.append(
            f"execution ID {_shown(execution)} is not letters+digit-digits (like VA1-132457)"
        )
    if len(alias) > MAX_ALIAS:
        reasons.append(f"account alias is {len(alias)} characters long; the limit is {MAX_ALIAS}")
    elif alias and not ALIAS_PATTERN.fullmatch(alias):
        reasons.append(f"account alias {_shown(alias)} may only contain letters and digits")
    return reasons


def _duplicate_reason(first: InventoryRow, attributes: dict[str, str]) -> str:
    """The reason given for a row that repeats ``first``'s (alias, server, execution)."""
    changed = [name for name, value in attributes.items() if value != first.attributes[name]]
    if not changed:
        return f"same as line {first.line}"
    differences = "; ".join(
        f"{name} {_shown(attributes[name])} here, {_shown(first.attributes[name])} there"
        for name in changed[:3]
    )
    more = f"; and {len(changed) - 3} more" if len(changed) > 3 else ""
    return (
        f"same server and execution as line {first.line} but with different attributes "
        f"({differences}{more}); line {first.line} is used"
    )


def _record_error(path: Path, error: csv.Error, start: int, end: int) -> str:
    """The reason for a row csv could not read, or InventoryError when the file cannot go on."""
    message = str(error)
    if "unexpected end of data" in message:
        raise InventoryError(
            f"inventory file {path}: the quoted value that starts on line {start} is never "
            "closed (a missing '\"')"
        )
    if "field larger than field limit" in message:
        if end > start:
            raise InventoryError(
                f"inventory file {path}: the quoted value that starts on line {start} runs "
                "over several lines and past the size limit; is a closing '\"' missing?"
            )
        return f"a value is larger than {FIELD_LIMIT >> 10} KiB"
    if "expected after" in message:
        return "malformed quotes: a closing '\"' must be followed by the delimiter or the line end"
    return f"cannot be read as CSV ({message})"


def load_inventory(path: str | Path) -> Inventory:
    """Read an inventory CSV (SPEC 2).

    >>> inventory = load_inventory("servers.csv")  # doctest: +SKIP
    >>> len(inventory.rows) + len(inventory.problems) == inventory.data_rows  # doctest: +SKIP
    True

    Raises:
        InventoryError: the file is missing, unreadable, not UTF-8 CSV, empty, has no data
            rows or no server_id column, or a quoted value is never closed.
    """
    path = Path(path)
    with _open(path) as handle:
        hashing = _HashingReader(handle)
        buffered = io.BufferedReader(hashing)
        head = buffered.peek(8192)
        # The UTF-32 little-endian BOM starts with the UTF-16 one: test it first.
        for width, boms in (
            (32, (b"\xff\xfe\0\0", b"\0\0\xfe\xff")),
            (16, (b"\xff\xfe", b"\xfe\xff")),
        ):
            if head.startswith(boms):
                raise InventoryError(
                    f"inventory file {path} is UTF-{width} text, not UTF-8; save it as UTF-8 CSV"
                )
        if b"\0" in head:  # binary: say so rather than report its first non-UTF-8 byte
            raise _not_csv(path)
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
        try:
            rows, problems, attribute_columns, data_rows = _read(path, _Lines(text, path))
        except UnicodeDecodeError:
            raise InventoryError(
                f"inventory file {path} is not UTF-8 text ({_utf8_error(path)}); "
                "save it as UTF-8 CSV"
            ) from None
    return Inventory(path, hashing.sha256.hexdigest(), rows, problems, attribute_columns, data_rows)


def _read(path: Path, lines: _Lines) -> tuple[list[InventoryRow], list[Problem], list[str], int]:
    """Parse the lines: (valid rows, problems, attribute columns, data rows read)."""
    reader = csv.reader(lines, delimiter=_delimiter(lines.first_content_line()), strict=True)
    layout: _Layout | None = None
    rows: list[InventoryRow] = []
    problems: list[Problem] = []
    first_by_key: dict[tuple[str, str, str], InventoryRow] = {}
    data_rows = 0
    while True:
        start = lines.number + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except (csv.Error, _LineTooLong) as error:
            if isinstance(error, _LineTooLong):
                reason = f"line is longer than {LINE_LIMIT >> 20} MiB"
            else:
                reason = _record_error(path, error, start, lines.number)
            if layout is None:
                raise InventoryError(
                    f"inventory file {path}: header line {start}: {reason}"
                ) from None
            data_rows += 1
            problems.append(Problem(INVALID_ROW, reason, line=start))
            continue
        if not "".join(cells).strip():
            continue  # blank, or only delimiters and spaces
        if layout is None:
            layout = _layout(path, [cell.strip().strip("\ufeff").strip() for cell in cells])
            continue
        data_rows += 1
        row = _row(start, cells, layout)
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
    if layout is None:
        raise InventoryError(f"inventory file {path} is empty")
    if data_rows == 0:
        raise InventoryError(f"inventory file {path} has a header but no data rows")
    return rows, problems, [name for _, name in layout.attributes], data_rows


def _row(line: int, cells: list[str], layout: _Layout) -> InventoryRow | Problem:
    """One data row as an :class:`InventoryRow`, or the :class:`Problem` that stops it."""
    if len(cells) < layout.width:
        cells = cells + [""] * (layout.width - len(cells))
    server = cells[layout.server].strip()
    execution = cells[layout.execution].strip() if layout.execution is not None else ""
    alias = cells[layout.alias].strip() if layout.alias is not None else ""
    reasons = _id_problems(server, execution, alias)
    if max(map(len, cells)) > FIELD_LIMIT:
        reasons.append(f"a value is larger than {FIELD_LIMIT >> 10} KiB")
    extra = len(cells) - layout.width
    if extra > 0 and "".join(cells[layout.width :]).strip():
        used = len(cells) - next(i for i, cell in enumerate(reversed(cells)) if cell.strip())
        reasons.append(f"the row has {used} values but the header has {layout.width} columns")
    if reasons:
        return Problem(
            INVALID_ROW,
            "; ".join(reasons),
            line=line,
            account_alias=_clipped(alias),
            server_id=_clipped(server),
            execution_id=_clipped(execution),
        )
    return InventoryRow(
        line,
        server,
        execution or None,
        alias or None,
        {name: cells[index].strip() for index, name in layout.attributes},
    )
