"""Reading the CSV files a user hands in (inventory, baseline, exceptions) with one set of rules.

Reading rules (SPEC 2), the same for every input file:

- UTF-8 with or without a BOM; lines end in CRLF, LF or a lone CR; quoted fields may hold
  commas, quotes and line breaks. Cells are trimmed. Blank lines, and lines of only
  delimiters and spaces, are skipped.
- Comma-separated. When the header line has no comma but has ``;`` or a tab (as spreadsheet
  programs write CSV in some locales), that character separates the whole file.
- A data row that cannot be read as CSV becomes a :class:`BadRecord` with its line number, and
  the other rows go on; the caller lists it as a problem.
- A file that cannot be used at all (missing, a folder, a FIFO, binary, UTF-16, not UTF-8,
  empty, no data rows, a quoted value never closed) raises the caller's error class with one
  line naming the file and what is wrong.

Messages quote cell values through :func:`shown`, which never echoes what looks like a secret
(``CLC_PASSWORD=...``, as in an environment file passed by mistake).
"""

import csv
import hashlib
import io
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from reporter.errors import ReporterError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

FIELD_LIMIT = 64 * 1024  # characters in one value; a larger one makes its row a problem
# Reading stops at this many characters per physical line, so a file without line breaks
# cannot fill the memory; the rest of such a line is skipped and its row is a problem.
LINE_LIMIT = 1024 * 1024
_SCAN_LIMIT = 64 * 1024 * 1024  # how far to look for the first non-UTF-8 byte to report it
# "NAME=value" where NAME names a secret, as a line of an environment file reads.
Layout = TypeVar("Layout")
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)^(\s*(?:export\s+)?[A-Z0-9_]*(?:PASS|PASSWD|PASSWORD|TOKEN|SECRET|KEY|CREDENTIAL)"
    r"[A-Z0-9_]*\s*=)"
)


def header_key(name: str) -> str:
    """A header name reduced for matching: ``"Server-ID"`` -> ``"serverid"``.

    >>> header_key(" Server-ID "), header_key("server_id")
    ('serverid', 'serverid')
    """
    return re.sub(r"[\s_-]+", "", name).casefold()


def shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for a message: clipped, control characters escaped, secrets hidden.

    >>> shown("CLC_PASSWORD=hunter2")
    "'CLC_PASSWORD=***'"
    >>> shown("owner")
    "'owner'"
    """
    secret = _SECRET_ASSIGNMENT.match(value)
    if secret:
        value = secret.group(1) + "***"
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def clipped(value: str) -> str | None:
    """``value`` short enough to carry in a problem (None if empty)."""
    return (value if len(value) <= 100 else value[:99] + "…") or None


@dataclass(frozen=True, slots=True)
class Record:
    """One data row: its first physical line and its cells (untrimmed, as csv read them)."""

    line: int
    cells: list[str]


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A data row that could not be read as CSV, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class CsvFile(Generic[Layout]):
    """An input CSV read whole: its header's layout, its data rows, the SHA-256 of its bytes."""

    path: Path
    sha256: str
    layout: Layout  # what the caller's ``layout`` function made of the header
    records: list[Record | BadRecord]  # non-blank data rows, in file order

    @property
    def data_rows(self) -> int:
        """Non-blank data rows read, readable or not."""
        return len(self.records)


class _LineTooLong(Exception):
    """A physical line longer than :data:`LINE_LIMIT` (already skipped)."""


class _HashingReader(io.RawIOBase):
    """A binary stream that feeds every byte read through it to SHA-256."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        count = self._raw.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
        return count


class _Lines:
    """The file's physical lines, with their ends, for ``csv.reader``; counts lines handed out."""

    def __init__(self, text: io.TextIOWrapper, not_csv: ReporterError) -> None:
        self._text = text
        self._not_csv = not_csv
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
            raise self._not_csv
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


class _Reader:
    """One input file being read: what it is called in messages, and the error it raises."""

    def __init__(self, path: Path, what: str, error: type[ReporterError]) -> None:
        self.path = path
        self.what = what  # "inventory file", "baseline file", ...
        self.error = error

    def fail(self, text: str) -> ReporterError:
        """The one-line error for a file that cannot be used: ``{what} {path} {text}``."""
        separator = "" if text.startswith(":") else " "
        return self.error(f"{self.what} {self.path}{separator}{text}")

    def not_csv(self) -> ReporterError:
        """The error for a file holding NUL bytes, which no text CSV does."""
        return self.fail(
            "is not a CSV file (it contains NUL bytes: binary data or UTF-16 text); "
            "save it as UTF-8 CSV"
        )

    def open(self) -> io.BufferedReader:
        """Open the file for reading, or say in one line why it cannot be."""
        path = self.path
        try:
            # Non-blocking, so that a FIFO given by mistake is refused below instead of hanging
            # the run until something writes to it; reads from a regular file are unaffected.
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise self.fail("does not exist") from None
        except IsADirectoryError:
            raise self.fail("is a folder, not a CSV file") from None
        except PermissionError:
            if os.path.isdir(path):
                raise self.fail("is a folder, not a CSV file") from None
            raise self.fail("is not readable (permission denied)") from None
        except OSError as error:
            raise self.fail(f"cannot be read: {error.strerror}") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise self.fail(
                "is a folder, not a CSV file" if stat.S_ISDIR(mode) else "is not a regular file"
            )
        return os.fdopen(fd, "rb")

    def utf8_error(self) -> str:
        """Where the file stops being UTF-8, e.g. "byte 0xff at offset 12, line 2"."""
        with self.path.open("rb") as handle:
            data = handle.read(_SCAN_LIMIT)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.end < len(data) or len(data) < _SCAN_LIMIT:
                before = data[: error.start]
                line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
                return f"byte 0x{data[error.start]:02x} at offset {error.start}, line {line}"
        return f"after the first {_SCAN_LIMIT >> 20} MiB"

    def record_error(self, error: csv.Error, start: int, end: int) -> str:
        """The reason for a row csv could not read; raises when the file cannot go on."""
        message = str(error)
        if "unexpected end of data" in message:
            raise self.fail(
                f": the quoted value that starts on line {start} is never closed (a missing '\"')"
            )
        if "field larger than field limit" in message:
            if end > start:
                raise self.fail(
                    f": the quoted value that starts on line {start} runs over several lines "
                    "and past the size limit; is a closing '\"' missing?"
                )
            return f"a value is larger than {FIELD_LIMIT >> 10} KiB"
        if "expected after" in message:
            return (
                "malformed quotes: a closing '\"' must be followed by the delimiter or the line end"
            )
        return f"cannot be read as CSV ({message})"


def read_csv(
    path: str | Path,
    what: str,
    error: type[ReporterError],
    layout: Callable[[Path, list[str]], Layout],
) -> CsvFile[Layout]:
    """Read a user's CSV file by the rules above.

    Args:
        path: the file.
        what: what the file is, for messages ("inventory file", "baseline file", ...).
        error: the :class:`ReporterError` class raised when the file cannot be used at all.
        layout: called with the path and the trimmed header cells as soon as the header is
            read (before the data rows); it maps columns to fields, raising ``error`` for a
            header that cannot be used.

    Raises:
        error: with one line naming the file and the reason.
    """
    reader = _Reader(Path(path), what, error)
    with reader.open() as handle:
        hashing = _HashingReader(handle)
        buffered = io.BufferedReader(hashing)
        head = buffered.peek(8192)
        # The UTF-32 little-endian BOM starts with the UTF-16 one: test it first.
        for width, boms in (
            (32, (b"\xff\xfe\0\0", b"\0\0\xfe\xff")),
            (16, (b"\xff\xfe", b"\xfe\xff")),
        ):
            if head.startswith(boms):
                raise reader.fail(f"is UTF-{width} text, not UTF-8; save it as UTF-8 CSV")
        if b"\0" in head:  # binary: say so rather than report its first non-UTF-8 byte
            raise reader.not_csv()
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
        lines = _Lines(text, reader.not_csv())
        found: list[Layout] = []
        records: list[Record | BadRecord] = []
        try:
            delimiter = _delimiter(lines.first_content_line())
            rows = csv.reader(lines, delimiter=delimiter, strict=True)
            for start, cells, problem in _raw_rows(reader, lines, rows):
                if problem is not None:
                    if not found:
                        raise reader.fail(f": header line {start}: {problem}")
                    records.append(BadRecord(start, problem))
                elif not "".join(cells).strip():
                    continue  # blank, or only delimiters and spaces
                elif not found:
                    header = [cell.strip().strip("\ufeff").strip() for cell in cells]
                    found.append(layout(reader.path, header))
                else:
                    records.append(Record(start, cells))
        except UnicodeDecodeError:
            raise reader.fail(
                f"is not UTF-8 text ({reader.utf8_error()}); save it as UTF-8 CSV"
            ) from None
    if not found:
        raise reader.fail("is empty")
    if not records:
        raise reader.fail("has a header but no data rows")
    return CsvFile(reader.path, hashing.sha256.hexdigest(), found[0], records)


def _raw_rows(
    reader: _Reader, lines: _Lines, rows: Iterator[list[str]]
) -> Iterator[tuple[int, list[str], str | None]]:
    """Per row: (first line, cells, None), or (first line, [], why csv could not read it)."""
    while True:
        start = lines.number + 1
        try:
            cells = next(rows)
        except StopIteration:
            return
        except _LineTooLong:
            yield start, [], f"line is longer than {LINE_LIMIT >> 20} MiB"
            continue
        except csv.Error as error:
            yield start, [], reader.record_error(error, start, lines.number)
            continue
        yield start, cells, None


def _delimiter(header_line: str | None) -> str:
    """Comma, unless the header line has no comma but has ';' or a tab."""
    if not header_line or "," in header_line:
        return ","
    semicolons, tabs = header_line.count(";"), header_line.count("\t")
    if semicolons or tabs:
        return ";" if semicolons >= tabs else "\t"
    return ","


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each field of a file sits in its rows (from the header), and the header's width.

    Columns that name no field are ignored.
    """

    width: int
    index: dict[str, int]

    def cell(self, cells: list[str], field: str) -> str:
        """The trimmed value of ``field`` in a row ("" when the field or the cell is absent)."""
        position = self.index.get(field)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()

    def shape_problems(self, cells: list[str]) -> list[str]:
        """What is wrong with a row's shape: see :func:`row_shape_problems`."""
        return row_shape_problems(cells, self.width)


def row_shape_problems(cells: list[str], width: int) -> list[str]:
    """What is wrong with a row's shape for a header ``width`` columns wide: a value larger
    than :data:`FIELD_LIMIT`, values beyond the header's columns (blank ones do not count)."""
    reasons = []
    if cells and max(map(len, cells)) > FIELD_LIMIT:
        reasons.append(f"a value is larger than {FIELD_LIMIT >> 10} KiB")
    if len(cells) > width and "".join(cells[width:]).strip():
        used = len(cells) - next(i for i, cell in enumerate(reversed(cells)) if cell.strip())
        reasons.append(f"the row has {used} values but the header has {width} columns")
    return reasons


def named_columns(
    path: Path,
    header: list[str],
    names: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    what: str,
    error: type[ReporterError],
) -> Columns:
    """Map a header to fields: ``names`` gives each field's accepted header names (matched by
    :func:`header_key`).

    Raises:
        error: two columns name the same field, or a ``required`` field has no column.
    """
    by_key = {header_key(name): field for field, accepted in names.items() for name in accepted}
    found: dict[str, tuple[int, str]] = {}
    for position, name in enumerate(header):
        field = by_key.get(header_key(name)) if name else None
        if field is None:
            continue
        if field in found:
            raise error(
                f"{what} {path}: columns {shown(found[field][1])} and {shown(name)} both name "
                f"the {field}"
            )
        found[field] = (position, name)
    missing = [field for field in required if field not in found]
    if missing:
        columns = ", ".join(shown(name) for name in header[:10] if name) or "none"
        accepted = "; ".join(f"{field}: {', '.join(names[field])}" for field in missing)
        raise error(
            f"{what} {path} has no {' or '.join(missing)} column (columns found: {columns}; "
            f"accepted names: {accepted})"
        )
    return Columns(len(header), {field: position for field, (position, _) in found.items()})
