"""The report's DataFrames (the columns of :mod:`reporter.schema`), built from raw columns.

Repeated strings are categoricals, counts nullable ``Int64``, flags ``boolean`` and times
``datetime64[ns, UTC]``. Columns whose name starts with ``_`` are working columns (row
positions into another frame) that :func:`public` drops before the frames reach a renderer.
Each frame builder returns its :class:`~reporter.notes.Notes` beside the frame.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from reporter.derive import categorical, derive_results, derive_titles, factorize, judge_outcomes
from reporter.inventory import Inventory
from reporter.notes import Notes
from reporter.parse import STATUSES, RawBatch, clean_text_column, parse_duration, parse_times
from reporter.problems import Problem, kind_rank
from reporter.records import FetchedExecution, normalise_status
from reporter.schema import (
    EXECUTION_SCHEMA,
    FAILED_SCHEMA,
    PATCH_ROLLUP_SCHEMA,
    PROBLEM_SCHEMA,
    SERVER_SCHEMA,
)

DURATION_TOLERANCE_S = 1  # reported and computed durations may differ by rounding


@dataclass
class ServerTable:
    """The servers of a report: every inventory server once, keyed by (ALIAS, SERVER).

    Built whole by :func:`server_table`; later stages only read it.
    """

    aliases: list[str] = field(default_factory=list)
    server_ids: list[str] = field(default_factory=list)
    attributes: dict[str, list[str | None]] = field(default_factory=dict)
    in_inventory: list[bool] = field(default_factory=list)
    positions: dict[tuple[str, str], int] = field(default_factory=dict)
    _columns: dict[str, pd.Categorical] = field(default_factory=dict, repr=False)

    def _add(self, alias: str | None, server_id: str) -> int:
        """The server's row number, adding it (without attributes) if it is new."""
        key = ((alias or "").upper(), server_id.upper())
        found = self.positions.get(key)
        if found is None:
            found = self.positions[key] = len(self.server_ids)
            self.aliases.append(key[0])
            self.server_ids.append(server_id)
            self.in_inventory.append(False)
            for values in self.attributes.values():
                values.append(None)
            self._columns.clear()
        return found

    def column(self, name: str, rows: np.ndarray) -> pd.Categorical:
        """Column ``name`` (``account_alias``, ``server_id`` or an attribute) for ``rows``.

        ``rows`` are server row numbers; each server column is made categorical only once.
        """
        whole = self._columns.get(name)
        if whole is None:
            values: list[str] | list[str | None]
            if name == "account_alias":
                values = self.aliases
            elif name == "server_id":
                values = self.server_ids
            else:
                values = self.attributes[name]
            whole = self._columns[name] = categorical(np.arange(len(values)), values)
        return pd.Categorical.from_codes(whole.codes[rows], dtype=whole.dtype, validate=False)


RESERVED = {
    *FAILED_SCHEMA.names,
    *EXECUTION_SCHEMA.names,
    *SERVER_SCHEMA.names,
    *PATCH_ROLLUP_SCHEMA.names,
}


def attribute_name(column: str) -> str:
    """The name an inventory attribute goes by in the frames: its header, unless a report
    column has that name already (an inventory column "status" becomes "status (inventory)").
    """
    if column in RESERVED or column.startswith("_"):
        return f"{column} (inventory)"
    return column


def server_table(
    inventory: Inventory,
    default_alias: str | None,
    fetched: Sequence[FetchedExecution] = (),
) -> ServerTable:
    """Every distinct (alias, server) of the inventory's valid rows, in file order, then the
    servers of ``fetched`` executions that the inventory does not list, in fetch order.

    A server listed on several rows takes, for each attribute, the first non-empty value.
    """
    names = {attribute_name(name): name for name in inventory.attribute_columns}
    table = ServerTable(attributes={name: [] for name in names})
    complete: set[int] = set()  # servers whose attributes are all known already
    for row in inventory.rows:
        alias = (row.account_alias or default_alias or "").upper()
        position = table.positions.get((alias, row.server_id.upper()))
        if position is None:
            position = table._add(alias, row.server_id)
            table.in_inventory[position] = True
        elif position in complete:
            continue
        filled = True
        for name, values in table.attributes.items():
            if not values[position]:
                values[position] = row.attributes.get(names[name]) or None
                filled = filled and values[position] is not None
        if filled:
            complete.add(position)
    known = table.positions
    for item in fetched:  # executions of servers the inventory does not list: report them too
        if (item.account_alias.upper(), item.server_id.upper()) not in known:
            table._add(item.account_alias, item.server_id)
    return table


def execution_frame(batch: RawBatch, servers: ServerTable) -> tuple[pd.DataFrame, Notes]:
    """One row per readable execution payload, in fetch order, and the notes on them.

    ``servers`` must hold the server of every execution (:func:`server_table` given
    ``batch.fetched``); the working column ``_server`` is its row there.
    """
    notes = Notes()
    count = len(batch.fetched)
    owners = np.arange(count)
    known = servers.positions
    rows = [known[(f.account_alias.upper(), f.server_id.upper())] for f in batch.fetched]
    server_rows = np.array(rows, dtype=np.int64)
    status_raw = batch.exec_status  # already text or None
    start = parse_times(batch.exec_start, "start_time", owners, None, notes)
    end = parse_times(batch.exec_end, "end_time", owners, None, notes)
    status = normalise_statuses(*factorize(status_raw))
    durations = _durations(batch, start, end, notes)
    frame = pd.DataFrame(
        {
            "_server": server_rows,
            "account_alias": servers.column("account_alias", server_rows),
            "server_id": servers.column("server_id", server_rows),
            "execution_id": categorical(*factorize([f.execution_id for f in batch.fetched])),
            "status": status,
            "status_raw": pd.array(status_raw, dtype="string"),
            "start": start,
            "end": end,
            **durations,
            "patch_count": pd.array(batch.exec_patch_count, dtype="Int64"),
            "details_missing": pd.array(batch.exec_details_missing, dtype="boolean"),
        }
    )
    _note_missing_fields(notes, frame)
    return frame, notes


def _durations(
    batch: RawBatch, start: pd.DatetimeIndex, end: pd.DatetimeIndex, notes: Notes
) -> dict:
    """duration_s (times first, else reported), duration_reported and duration_mismatch."""
    computed = np.asarray((end - start).total_seconds())
    backwards = computed < 0
    for position in np.flatnonzero(backwards):
        notes.fault(int(position), "end_time is before start_time")
    computed = np.where(backwards | np.isnan(computed), np.nan, np.round(computed))
    reported_text = batch.exec_duration
    codes, uniques = factorize(reported_text)
    known = np.array([parse_duration(text) for text in uniques], dtype=float)
    reported = known[codes] if len(known) else np.zeros(0)
    for position in np.flatnonzero(np.isnan(reported)):
        text = reported_text[position]
        if text is not None and text.strip():
            notes.fault(int(position), f"duration {text.strip()!r} is not a duration")
    mismatch = ~np.isnan(computed) & ~np.isnan(reported)
    mismatch &= np.abs(np.nan_to_num(computed) - np.nan_to_num(reported)) > DURATION_TOLERANCE_S
    for position in np.flatnonzero(mismatch):
        notes.flag(
            int(position),
            f"duration {reported_text[position].strip()!r} does not match the times "
            f"({int(computed[position])} s)",
        )
    seconds = np.where(np.isnan(computed), reported, computed)
    return {
        "duration_s": whole_seconds(seconds),
        "duration_reported": pd.array(reported_text, dtype="string"),
        "duration_mismatch": pd.array(mismatch, dtype="boolean"),
    }


def _note_missing_fields(notes: Notes, frame: pd.DataFrame) -> None:
    """Note documented execution fields that are missing where they should be known."""
    status = frame["status"].cat.codes.to_numpy()
    raw = frame["status_raw"]
    for position in np.flatnonzero(raw.isna().to_numpy()):
        notes.fault(int(position), "no status")
    unknown = (status == STATUSES.index("unknown")) & raw.notna().to_numpy()
    for position in np.flatnonzero(unknown):
        notes.fault(int(position), f"status {raw.iloc[position]!r} is not a known status")
    started = np.isin(status, [STATUSES.index(s) for s in ("running", "completed", "failed")])
    for position in np.flatnonzero(started & frame["start"].isna().to_numpy()):
        notes.fault(int(position), "no start_time")
    finished = np.isin(status, [STATUSES.index(s) for s in ("completed", "failed")])
    for position in np.flatnonzero(finished & frame["end"].isna().to_numpy()):
        notes.fault(int(position), "no end_time")


def patch_frame(
    batch: RawBatch, executions: pd.DataFrame, kept: np.ndarray
) -> tuple[pd.DataFrame, Notes]:
    """One row per patch attempt of the executions in ``kept`` (positions in ``executions``),
    and the notes on the patches (against their execution's number in ``batch``).

    ``executions`` is the full execution frame; the working column ``_exec`` of the result is
    the row of the patch's execution in ``executions.iloc[kept]``.
    """
    notes = Notes()
    new_row = np.full(len(executions), -1, dtype=np.int64)
    new_row[kept] = np.arange(len(kept))
    all_owners = batch.patch_owners()
    all_seqs = batch.patch_seqs()
    chosen = np.flatnonzero(new_row[all_owners] >= 0) if len(all_owners) else slice(None)
    if isinstance(chosen, np.ndarray) and len(chosen) == len(all_owners):
        chosen = slice(None)  # every patch is in the figures: no copies
    owners, seqs = all_owners[chosen], all_seqs[chosen]
    values = batch.patch_values

    def text(name: str) -> tuple[np.ndarray, list]:
        codes, uniques = factorize_text(values[name], name, all_owners, all_seqs, notes)
        return codes[chosen], uniques

    begin_codes, begin_uniques = text("patch_begin_message")
    titles = derive_titles(begin_codes, begin_uniques)
    for position in np.flatnonzero(titles["title"].isna()):
        message = begin_uniques[begin_codes[position]]
        seq = int(seqs[position])
        if message and message.strip():
            kind = "whose patch_begin_message names no patch"
            what = f"{message.strip()!r} names no patch"
        else:
            kind, what = "without a title (patch_begin_message missing)", "missing"
        notes.patch_fault(
            int(owners[position]), seq, kind, f"patch {seq} patch_begin_message {what}"
        )
    times = {}
    for name in ("start_time", "end_time"):
        cleaned = clean_text_column(values[name], name, all_owners, all_seqs, notes)
        times[name] = parse_times(cleaned, name, all_owners, all_seqs, notes)[chosen]
    start, end = times["start_time"], times["end_time"]
    seconds = np.asarray((end - start).total_seconds())
    rows = new_row[owners]
    kept_executions = executions.iloc[kept]
    frame = pd.DataFrame(
        {
            "_exec": rows,
            "_server": kept_executions["_server"].to_numpy()[rows],
            "account_alias": kept_executions["account_alias"].array.take(rows),
            "server_id": kept_executions["server_id"].array.take(rows),
            "execution_id": kept_executions["execution_id"].array.take(rows),
            "execution_status": kept_executions["status"].array.take(rows),
            "execution_start": kept_executions["start"].array.take(rows),
            "execution_end": kept_executions["end"].array.take(rows),
            "patch_seq": pd.array(seqs, dtype="Int64"),
            **titles,
            **derive_results(*text("patch_end_message")),
            "patch_status": normalise_statuses(*text("status")),
            "patch_start": start,
            "patch_end": end,
            "duration_s": whole_seconds(np.where(seconds >= 0, seconds, np.nan)),
        }
    )
    outcome, untold = judge_outcomes(
        frame["result_code"].array, frame["reboot_required"].array, frame["patch_status"].array
    )
    frame["outcome"] = outcome
    for position in np.flatnonzero(untold):
        seq = int(seqs[position])
        notes.patch_fault(
            int(owners[position]),
            seq,
            "with no result code and no known status (counted as warnings)",
            f"patch {seq} has no result code and no known status; counted as a warning",
        )
    return frame, notes


def with_attributes(frame: pd.DataFrame, servers: ServerTable) -> pd.DataFrame:
    """``frame`` with the inventory attribute columns of each row's server (``_server``)."""
    rows = frame["_server"].to_numpy()
    frame = frame.copy(deep=False)  # new columns only: the existing ones are shared, not copied
    added = {name: servers.column(name, rows) for name in servers.attributes}
    if not added:
        return frame
    # One concat, not one insert per attribute: inserts cost O(columns) each, and an inventory
    # with thousands of attribute columns then took minutes.
    kept = frame.drop(columns=[name for name in added if name in frame.columns])
    return pd.concat([kept, pd.DataFrame(added, index=frame.index)], axis=1)


def public(frame: pd.DataFrame, columns: Sequence[str], servers: ServerTable) -> pd.DataFrame:
    """``columns`` then the attribute columns, working columns dropped, index reset."""
    return frame.loc[:, [*columns, *servers.attributes]].reset_index(drop=True)


def factorize_text(
    values: list[Any], name: str, owners: np.ndarray, seqs: np.ndarray | None, notes: Notes
) -> tuple[np.ndarray, list[str | None]]:
    """:func:`factorize` of a column that should be text, after :func:`clean_text_column`.

    The types are checked on the distinct values only; in the rare column with a wrong type,
    the column is cleaned entry by entry and factorized again.
    """
    try:
        codes, uniques = factorize(values)
        if all(value is None or type(value) is str for value in uniques):
            return codes, uniques
    except TypeError:  # an unhashable value: a list or an object
        pass
    return factorize(clean_text_column(values, name, owners, seqs, notes))


def normalise_statuses(codes: np.ndarray, uniques: list[str | None]) -> pd.Categorical:
    """:func:`normalise_status` over a factorized column, once per distinct value."""
    mapped = np.array([STATUSES.index(normalise_status(u)) for u in uniques], dtype=np.int8)
    full = mapped[codes] if len(mapped) else np.zeros(0, dtype=np.int8)
    column = pd.Categorical.from_codes(full, categories=pd.Index(STATUSES), validate=False)
    return cast(pd.Categorical, column)  # pandas-stubs: Categorical[str], invariant


def whole_seconds(seconds: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Float seconds (NaN when unknown) as ``Int64``; absurdly large values are unknown too."""
    seconds = np.where(np.abs(np.nan_to_num(seconds)) < 2**53, np.round(seconds), np.nan)
    return pd.array(seconds, dtype="Int64")


def problem_frame(problems: Sequence[Problem]) -> pd.DataFrame:
    """The problems (:data:`~reporter.schema.PROBLEM_SCHEMA`), grouped by kind, most serious
    first (:func:`reporter.problems.kind_rank`), then by inventory line (unknown last), then
    server."""
    frame = pd.DataFrame(
        {
            "line": pd.array([p.line for p in problems], dtype="Int64"),
            "account_alias": pd.array([p.account_alias for p in problems], dtype="string"),
            "server_id": pd.array([p.server_id for p in problems], dtype="string"),
            "execution_id": pd.array([p.execution_id for p in problems], dtype="string"),
            "kind": pd.array([p.kind for p in problems], dtype="string"),
            "reason": pd.array([p.reason for p in problems], dtype="string"),
        },
        columns=PROBLEM_SCHEMA.names,
    )
    rank = pd.Series([kind_rank(p.kind) for p in problems], index=frame.index, dtype=float)
    ordered = frame.assign(_rank=rank).sort_values(
        ["_rank", "line", "server_id"], na_position="last", kind="stable"
    )
    return ordered.drop(columns="_rank").reset_index(drop=True)
