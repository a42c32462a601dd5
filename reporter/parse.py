"""Reading execution payloads as the API sends them, with every tolerance of SPEC 1.

The API's JSON comes in several dialects (snake_case, ``Capitalized_snake``, camelCase), with
times in three formats, statuses in any case, durations in four notations and, now and then,
a patch count where the patch list should be. :func:`read_payloads` walks the decoded payloads
once and appends each raw field to a column list; the columns are then parsed vectorised
(:func:`parse_times`) or once per distinct value (:func:`normalise_status`,
:func:`parse_duration`). Nothing here raises on bad data: what is wrong is returned as
:class:`~reporter.notes.Notes` beside the values, and the report lists it.
"""

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from reporter.notes import Notes
from reporter.problems import BAD_PAYLOAD, Problem
from reporter.records import FetchedExecution, normalise_status

STATUSES = ["pending", "running", "completed", "failed", "unknown"]

# Canonical field -> the spellings accepted for it, compared after removing case, "_", "-"
# and spaces (so execution_id, Execution_id, EXECUTION_ID and executionId all match).
EXECUTION_FIELDS: dict[str, tuple[str, ...]] = {
    "execution_id": ("executionid",),
    "status": ("status",),
    "start_time": ("starttime",),
    "end_time": ("endtime",),
    "duration": ("duration",),
    "patches": ("patches",),
}
PATCH_FIELDS: dict[str, tuple[str, ...]] = {
    "patch_begin_message": ("patchbeginmessage", "beginmessage"),
    "patch_end_message": ("patchendmessage", "endmessage"),
    "status": ("status",),
    "start_time": ("starttime",),
    "end_time": ("endtime",),
}
_KEY_NOISE = re.compile(r"[_\-\s]")
MAX_PATCH_COUNT = 1_000_000  # a larger "count" is not one
_CACHE_LIMIT = 4096  # distinct key layouts remembered; real payloads have a handful

# "1h 2m 3s", "20m 4s", "45s", "2 minutes 5 seconds": each part optional, in this order.
_DURATION_UNITS = re.compile(
    r"(?:(\d+(?:\.\d+)?)\s*h(?:ours?|rs?)?)?[\s,]*"
    r"(?:(\d+(?:\.\d+)?)\s*m(?:in(?:ute)?s?)?)?[\s,]*"
    r"(?:(\d+(?:\.\d+)?)\s*s(?:ec(?:ond)?s?)?)?",
    re.IGNORECASE,
)
_DURATION_CLOCK = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)")
_DURATION_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class Layout(NamedTuple):
    """How to read the fields from objects with one key layout (see :func:`_layout_getter`)."""

    getter: Callable[[dict], tuple]  # every field's value, in the order of the field table
    duplicates: tuple[str, ...]  # notes on fields given under two keys
    keys: dict[str, Any]  # field -> the key spelling it in this layout (None: absent)
    readers: dict[str, Callable[[dict], Any]]  # field -> its value in an object


@dataclass
class RawBatch:
    """Raw values read from the payloads: one entry per execution, one row per patch.

    ``exec_*`` lists hold one value per execution that had a readable (dict) payload.
    ``patch_values`` maps each field of :data:`PATCH_FIELDS` to its values, one per patch,
    execution after execution; ``patch_listed`` says how many patches each execution has, and
    ``seq_fixes`` the (row, position) pairs whose API position is not simply its rank (when
    an item before it was skipped).
    """

    fetched: list[FetchedExecution] = field(default_factory=list)
    exec_status: list[Any] = field(default_factory=list)
    exec_start: list[Any] = field(default_factory=list)
    exec_end: list[Any] = field(default_factory=list)
    exec_duration: list[Any] = field(default_factory=list)
    exec_patch_count: list[int | None] = field(default_factory=list)
    exec_details_missing: list[bool] = field(default_factory=list)
    patch_values: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in PATCH_FIELDS}
    )
    patch_listed: list[int] = field(default_factory=list)
    seq_fixes: list[tuple[int, int]] = field(default_factory=list)

    def patch_owners(self) -> np.ndarray:
        """Each patch row's execution number."""
        listed = np.asarray(self.patch_listed, dtype=np.int64)
        return np.repeat(np.arange(len(listed)), listed)

    def patch_seqs(self) -> np.ndarray:
        """Each patch row's 1-based position in its execution's list, as the API sent it."""
        listed = np.asarray(self.patch_listed, dtype=np.int64)
        firsts = np.cumsum(listed) - listed
        seqs = np.arange(int(listed.sum())) - np.repeat(firsts, listed) + 1
        for row, position in self.seq_fixes:
            seqs[row] = position
        return seqs


def read_payloads(fetched: Sequence[FetchedExecution]) -> tuple[RawBatch, Notes]:
    """Read every payload into raw columns in one pass; never raises on bad data.

    A payload that is not a JSON object becomes a ``bad payload`` problem and is left out.
    Field values are taken as sent; wrongly typed values are noted and read as text where that
    makes sense (a number for a status), else treated as missing (a list for a time).

    Returns:
        The raw columns, and the notes on them: faults per execution (numbered as in
        ``batch.fetched``) and a problem per unreadable payload.
    """
    batch = RawBatch()
    notes = Notes()
    exec_layouts: dict[tuple, Layout] = {}
    patch_layouts: dict[tuple, Layout] = {}
    for item in fetched:
        payload = item.payload
        if type(payload) is not dict:
            notes.problems.append(
                Problem(
                    BAD_PAYLOAD,
                    f"the API sent {_describe(payload)} instead of an execution object; "
                    "not in the figures",
                    item.line,
                    item.account_alias,
                    item.server_id,
                    item.execution_id,
                )
            )
            continue
        index = len(batch.fetched)
        batch.fetched.append(item)
        keys = tuple(payload)
        layout = exec_layouts.get(keys) or _layout_getter(keys, EXECUTION_FIELDS, exec_layouts)
        if layout.duplicates:
            notes.fault(index, "; ".join(layout.duplicates))
        # The getter gives the values in EXECUTION_FIELDS order.
        sent_id, status, start, end, duration, patches = layout.getter(payload)
        if type(sent_id) is not str:
            sent_id = _text(sent_id, "execution_id", notes, index)
        if sent_id is not None and sent_id != item.execution_id:
            _check_execution_id(notes, index, sent_id, item.execution_id)
        if type(status) is not str:
            status = _text(status, "status", notes, index)
        if type(start) is not str:
            start = _text(start, "start_time", notes, index)
        if type(end) is not str:
            end = _text(end, "end_time", notes, index)
        if type(duration) is not str:
            if isinstance(duration, int | float) and not isinstance(duration, bool):
                duration = str(duration)  # a bare number is read as seconds
            duration = _text(duration, "duration", notes, index)
        batch.exec_status.append(status)
        batch.exec_start.append(start)
        batch.exec_end.append(end)
        batch.exec_duration.append(duration)
        if type(patches) is list:
            _read_patch_list(batch, notes, index, patches, patch_layouts)
        else:
            key = layout.keys["patches"]
            count, details_missing = _patch_count(notes, index, patches, key, status)
            batch.exec_patch_count.append(count)
            batch.exec_details_missing.append(details_missing)
            batch.patch_listed.append(0)
    return batch, notes


def _check_execution_id(notes: Notes, index: int, sent: str, requested: str) -> None:
    """Note a response whose execution ID is not the one asked for (case aside)."""
    if sent.strip().upper() != requested.upper():
        notes.fault(
            index,
            f"the response is for execution {sent.strip()!r}, not the requested "
            f"{requested!r}; reported under the requested ID",
        )


def _read_patch_list(
    batch: RawBatch, notes: Notes, index: int, patches: list, layouts: dict[tuple, Layout]
) -> None:
    """Append one execution's patch list to the batch (the hot path: keep it plain).

    The usual case, every patch an object with the same keys, is read field by field with
    C-level ``map``s; anything else goes patch by patch.
    """
    columns = batch.patch_values
    if patches and set(map(type, patches)) == {dict}:
        shapes = set(map(tuple, patches))
        if len(shapes) == 1:
            keys = shapes.pop()
            layout = layouts.get(keys) or _layout_getter(keys, PATCH_FIELDS, layouts)
            if layout.duplicates:
                notes.fault(index, "patches: " + "; ".join(layout.duplicates))
            for name, read in layout.readers.items():
                columns[name].extend(map(read, patches))
            _count_rows(batch, len(patches))
            return
    rows = columns["patch_begin_message"]  # every field's list has a value per row
    listed = 0
    for position, patch in enumerate(patches, 1):
        if type(patch) is not dict:
            notes.patch_fault(
                index,
                position,
                "that are not objects (skipped)",
                f"patch {position} is {_describe(patch)}, not an object; skipped",
            )
            continue
        keys = tuple(patch)
        layout = layouts.get(keys) or _layout_getter(keys, PATCH_FIELDS, layouts)
        if layout.duplicates:
            notes.patch_fault(
                index,
                position,
                "with a field given under two keys (used the first)",
                f"patch {position}: {'; '.join(layout.duplicates)}",
            )
        listed += 1
        if position != listed:
            batch.seq_fixes.append((len(rows), position))
        for name, value in zip(PATCH_FIELDS, layout.getter(patch), strict=True):
            columns[name].append(value)
    _count_rows(batch, listed)


def _count_rows(batch: RawBatch, count: int) -> None:
    """Record how many patch rows the current execution contributed."""
    batch.patch_listed.append(count)
    batch.exec_patch_count.append(count)
    batch.exec_details_missing.append(False)


def _patch_count(
    notes: Notes, index: int, patches: Any, key: str | None, status: str | None
) -> tuple[int | None, bool]:
    """Read a ``patches`` value that is not a list: a count, nothing, or something wrong."""
    count = None
    if isinstance(patches, str) and patches.strip().isdigit():
        count = int(patches.strip())
    elif isinstance(patches, int) and not isinstance(patches, bool):
        count = patches
    elif isinstance(patches, float) and math.isfinite(patches) and patches.is_integer():
        count = int(patches)
    if count is not None and 0 <= count <= MAX_PATCH_COUNT:
        # Judged by its status and listed as a warning, not a fault (SPEC 4, 9).
        notes.flag(
            index,
            f"patch details not returned: the API gave a patch count ({count}) instead of the "
            "patch list",
        )
        return count, True
    if patches is None:
        if normalise_status(status) not in ("running", "pending"):
            field_name = "patches" if key is None else repr(key)
            notes.fault(index, f"no patch list ({field_name} missing or null); read as 0 patches")
        return 0, False
    notes.fault(index, f"patches is {_describe(patches)}, not a list; read as 0 patches")
    return 0, False


def _layout_getter(
    layout: tuple, fields: dict[str, tuple[str, ...]], cache: dict[tuple, Layout]
) -> Layout:
    """How to read one key layout; remembered per layout.

    Each field takes the first key of ``layout`` that spells it; the getter returns a tuple
    of the values in ``fields`` order, and each field's reader its value (None for a field
    the layout lacks).
    """
    found: dict[str, Any] = {}
    duplicates: list[str] = []
    wanted = {alias: name for name, aliases in fields.items() for alias in aliases}
    for key in layout:
        name = wanted.get(_KEY_NOISE.sub("", str(key)).lower())
        if name is None:
            continue
        if name in found:
            duplicates.append(f"keys {found[name]!r} and {key!r} both given; used the first")
        else:
            found[name] = key
    keys = {name: found.get(name) for name in fields}
    spelled = tuple(keys.values())
    getter: Callable[[dict], tuple]
    if all(key is not None for key in spelled):
        getter = itemgetter(*spelled)
    else:

        def getter(data: dict, keys: tuple = spelled) -> tuple:
            return tuple(None if key is None else data.get(key) for key in keys)

    readers: dict[str, Callable[[dict], Any]] = {
        name: _missing if key is None else itemgetter(key) for name, key in keys.items()
    }
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[layout] = Layout(getter, tuple(duplicates), keys, readers)
    return cache[layout]


def _missing(data: dict) -> None:
    """The value of a field the layout does not have."""
    return None


def _text(value: Any, name: str, notes: Notes, index: int) -> str | None:
    """A field that should be text: numbers are read as text, other types as missing."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        notes.fault(index, f"{name} is a number ({value!r}); read as text")
        return str(value)
    notes.fault(index, f"{name} is {_describe(value)}; ignored")
    return None


def _describe(value: Any) -> str:
    """A short phrase for a JSON value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def clean_text_column(
    values: list[Any], name: str, owners: np.ndarray, seqs: np.ndarray | None, notes: Notes
) -> list[str | None]:
    """``values`` with every entry text or None: non-text entries are noted and fixed.

    ``owners`` gives each entry's execution number and ``seqs`` (None for an execution field)
    its patch position, for the notes. Wrong types are rare, so fixing them one by one is fine.
    """
    if set(map(type, values)) <= {str, type(None)}:
        return values
    values = list(values)
    for position, value in enumerate(values):
        if value is None or type(value) is str:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            kind = f"with {name} a number (read as text)"
            what = f"is a number ({value!r}); read as text"
            values[position] = str(value)
        else:
            kind = f"with {name} of another type (ignored)"
            what = f"is {_describe(value)}; ignored"
            values[position] = None
        _fault(notes, int(owners[position]), seqs, position, name, kind, what)
    return values


def _fault(
    notes: Notes,
    execution: int,
    seqs: np.ndarray | None,
    row: int,
    name: str,
    kind: str,
    what: str,
) -> None:
    """Note that field ``name`` ``what`` ("is not a date and time"), for an execution field
    (``seqs`` None) or for the patch in ``row`` of a patch column."""
    if seqs is None:
        notes.fault(execution, f"{name} {what}")
    else:
        seq = int(seqs[row])
        notes.patch_fault(execution, seq, kind, f"patch {seq} {name} {what}")


def parse_times(
    values: list[str | None],
    name: str,
    owners: np.ndarray,
    seqs: np.ndarray | None,
    notes: Notes,
) -> pd.DatetimeIndex:
    """Parse a column of ISO 8601 times (``Z``, offsets, or ``YYYY-MM-DD HH:MM:SS`` as UTC).

    Empty values are unknown times (NaT) and fine; a non-empty value that is not a time is
    NaT too, and noted against its execution.
    """
    array = np.fromiter(values, dtype=object, count=len(values))
    before = pd.Timestamp.now(tz="UTC")
    parsed = pd.DatetimeIndex(
        pd.to_datetime(pd.Series(array, dtype=object), utc=True, format="ISO8601", errors="coerce")
    )
    # pandas reads "now" and "today" as the clock at parsing time: not a time the API knew.
    clock = np.flatnonzero((parsed >= before) & (parsed <= pd.Timestamp.now(tz="UTC")))
    words = [position for position in clock if values[position] in ("now", "today")]
    if words:
        parsed = pd.DatetimeIndex(parsed.where(~np.isin(np.arange(len(parsed)), words)))
    if parsed.unit != "ns":
        # The model's times are nanosecond based; years outside its range are not real times.
        low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        if len(parsed) and not (parsed.min() >= low and parsed.max() <= high):
            parsed = pd.DatetimeIndex(parsed.where((parsed >= low) & (parsed <= high)))
        parsed = parsed.as_unit("ns")
    for position in np.flatnonzero(parsed.isna()).tolist():
        raw = values[position]
        if raw is not None and raw.strip():
            shown = raw if len(raw) <= 40 else raw[:37] + "..."
            kind = f"whose {name} is not a date and time"
            what = f"{shown!r} is not a date and time"
            _fault(notes, int(owners[position]), seqs, position, name, kind, what)
    return parsed


def parse_duration(text: str | None) -> int | None:
    """Seconds from ``"20m 4s"``, ``"1h 2m 3s"``, ``"45s"``, ``"00:20:04"``, ``"20:04"`` or "1204".

    Returns None when the text is empty or not a duration.

    >>> parse_duration("20m 4s"), parse_duration("00:20:04"), parse_duration("soon")
    (1204, 1204, None)
    """
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        units = _DURATION_UNITS.fullmatch(text)
        if units and any(units.groups()):
            hours, minutes, seconds = (float(part or 0) for part in units.groups())
            return round(hours * 3600 + minutes * 60 + seconds)
        clock = _DURATION_CLOCK.fullmatch(text)
        if clock:
            hh, mm, ss = clock.groups()
            return round(int(hh or 0) * 3600 + int(mm) * 60 + float(ss))
        if _DURATION_NUMBER.fullmatch(text):
            return round(float(text))
    except (ValueError, OverflowError):
        return None
    return None
