"""The history ledger as a standard reads it, and the entries a run read, kept with its evidence.

A required patch installed in an earlier period is Installed per the history store's patch
ledger (SPEC 4a). The entries a run read are written to ``evidence/{label}/ledger.json`` (its
SHA-256 in run.json), so that ``--from-archive`` and ``history import`` judge the period on
the same facts whatever the history file holds by then, or wherever they write.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from reporter.errors import ArchiveError
from reporter.fileio import atomic_write_bytes
from reporter.history import LedgerEntry
from reporter.runrecord import LEDGER_FILE, RUN_RECORD, RunRecord

LEDGER_SETTING = "ledger"  # run.json's settings key: the file's SHA-256
# The ledger's entries of some patch keys before a label, for some accounts
# (HistoryStore.ledger's signature).
LedgerReader = Callable[[Sequence[str], str, set[str]], Sequence[LedgerEntry]]


class RecordingLedger:
    """A ledger reader that remembers every entry it returned."""

    def __init__(self, reader: LedgerReader) -> None:
        self._reader = reader
        self.entries: list[LedgerEntry] = []
        self.read = False

    def __call__(self, accounts: Sequence[str], label: str, keys: set[str]) -> list[LedgerEntry]:
        found = list(self._reader(accounts, label, keys))
        self.entries.extend(found)
        self.read = True
        return found


def save_ledger(folder: Path, entries: Sequence[LedgerEntry]) -> str:
    """Write the entries a run read to ``folder/ledger.json``; return the file's SHA-256."""
    data = (json.dumps([asdict(entry) for entry in entries], indent=1) + "\n").encode("utf-8")
    atomic_write_bytes(Path(folder) / LEDGER_FILE, data)
    return hashlib.sha256(data).hexdigest()


def saved_ledger(folder: Path, record: RunRecord | None) -> LedgerReader | None:
    """A reader of the entries a run kept (None: it kept none), checked against run.json.

    Raises:
        ArchiveError: the file is missing, changed or unreadable.
    """
    sha256 = record.settings.get(LEDGER_SETTING) if record is not None else None
    if not isinstance(sha256, str):
        return None
    path = Path(folder) / LEDGER_FILE
    try:
        data = path.read_bytes()
    except OSError:
        raise ArchiveError(f"the history ledger kept in {folder} is missing ({path})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArchiveError(
            f"the history ledger kept in {folder} changed since the run (its SHA-256 differs "
            f"from {RUN_RECORD})"
        )
    try:
        entries = [LedgerEntry(**item) for item in json.loads(data)]
    except (ValueError, TypeError) as error:
        raise ArchiveError(f"the history ledger kept in {folder} cannot be read: {error}") from None

    def reader(accounts: Sequence[str], label: str, keys: set[str]) -> list[LedgerEntry]:
        return [entry for entry in entries if entry.patch_key in keys]

    return reader
