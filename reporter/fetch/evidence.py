"""Evidence: every raw API response body as received, and a manifest to check them against.

Layout of the evidence folder::

    {alias}/{server_id}/{execution_id}.json   execution details
    {alias}/{server_id}/_summary.json         server summaries
    manifest.json                             URL, status, time, size and SHA-256 of each
    journal-{n}.jsonl                         entries saved since the manifest was written

The store itself keeps any body under any safe relative path (:meth:`EvidenceStore.save`);
:func:`body_path` and :func:`execution_fields` say where and how the Patching API's answers are
kept. Every URL's final answer is kept, whatever it was (SPEC 5, 9): a 200 with JSON, and
also a 404, a 500, a truncated or non-JSON body, with its status; an answer that never came
(a timeout, a refused connection) as an empty body with no status. Each entry also says how
many attempts the request took and what went wrong with the last one that failed, and for
an answer that is not data, the failure's kind and reason (:func:`answer_fields`), so that a
re-render from the archive reports the very same problem. Such an entry is never reused as
data: a rerun asks again (:meth:`EvidenceStore.load`). A body is held in memory only while
it is checked, then written and let go.

A body's entry is appended to the journal before the body is written (atomically); the
manifest is rewritten every few seconds and at :meth:`EvidenceStore.close`, after which the
journal it covers is deleted. So even a killed run (SIGKILL, power cut) leaves every body it
wrote on record with the hash it was saved with, and the next :class:`EvidenceStore` on the
folder adopts exactly those: a body that matches no recorded hash (changed since, or copied in)
is never adopted, and fetched again when it is needed. The folder is always usable to resume
from or to re-render from (:mod:`reporter.fetch.archive`).
"""

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from reporter import __version__
from reporter.fetch.contract import decode_json, id_problem, parse_time, payload_status
from reporter.fileio import FILE_MODE, atomic_write, atomic_write_bytes
from reporter.problems import FailureKind

log = logging.getLogger("reporter.evidence")

MANIFEST = "manifest.json"
JOURNAL = "journal-{:06d}.jsonl"  # numbered: each manifest rewrite starts the next one
SUMMARY = "_summary"  # file stem of a server summary; cannot clash with an execution ID
# One part of a relative path the store accepts: no '..', no hidden files, no separators.
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def body_path(account_alias: str, server_id: str, execution_id: str | None) -> str:
    """Where an execution's detail (or, without an ID, its server's summary) is kept.

    IDs are validated first: no path tricks.

    >>> body_path("OSD", "VA1OSDWEB01", "VA1-132457")
    'OSD/VA1OSDWEB01/VA1-132457.json'
    """
    reason = id_problem(account_alias, server_id, execution_id)
    if reason:
        raise ValueError(reason)
    return f"{account_alias}/{server_id}/{execution_id or SUMMARY}.json"


def execution_fields(
    account_alias: str, server_id: str, execution_id: str | None, payload: Any
) -> dict[str, Any]:
    """The manifest fields that say which execution (or summary) a body is, and its status."""
    return {
        "kind": "summary" if execution_id is None else "detail",
        "account_alias": account_alias,
        "server_id": server_id,
        "execution_id": execution_id,
        "execution_status": None if execution_id is None else payload_status(payload),
    }


def answer_fields(
    attempts: int,
    last_error: str | None,
    failure: FailureKind | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """The manifest fields that say how a request went: ``attempts`` made, the ``last_error``
    of an attempt that failed (None if none did), and ``failure`` (kind and reason) when the
    final answer is not data, else None."""
    return {
        "attempts": attempts,
        "last_error": last_error,
        "failure": None if failure is None else {"kind": str(failure), "reason": reason},
    }


def saved_failure(entry: Mapping[str, Any]) -> tuple[FailureKind, str] | None:
    """The failure a manifest entry records (kind and reason), or None for an answer that is
    data (a 200 kept by any version).

    An entry whose status is not 200 but that records no failure (written by hand, or by a
    reporter yet to come) is an HTTP status failure.
    """
    failure = entry.get("failure")
    if isinstance(failure, dict):
        reason = str(failure.get("reason") or "")
        try:
            return FailureKind(str(failure.get("kind"))), reason
        except ValueError:
            return FailureKind.HTTP_STATUS, reason or f"the API answered {failure.get('kind')}"
    status = entry.get("status", 200)
    if status != 200:
        answered = f"HTTP {status}" if status is not None else "nothing"
        return FailureKind.HTTP_STATUS, f"the API answered {answered}"
    return None


def check_relative(relative: str) -> str:
    """``relative`` if it is a safe path inside the evidence folder, else ValueError."""
    parts = relative.split("/")
    if not all(_PART.fullmatch(part) for part in parts):
        raise ValueError(f"not a safe evidence path: {relative!r}")
    return relative


def utc_text(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class SavedBody:
    """A body read back from the evidence folder, intact (it matches its manifest hash)."""

    data: bytes
    url: str
    fetched_at: datetime
    entry: dict[str, Any]


class EvidenceStore:
    """The evidence folder of one output folder, safe to use from many threads.

    Nothing is created on disk until the first body is saved, so a run that stops before
    (a refused login, say) leaves no folder behind.

    Args:
        path: the evidence folder; ``.path`` afterwards.
        flush_seconds: rewrite the manifest at least this often while bodies arrive (or ten
            times as long as the last rewrite took, if longer).
        flush_entries: ... or after this many new bodies (or a quarter of the bodies saved so
            far, if more), whichever comes first.
        clock: monotonic seconds (tests inject a fake one).
    """

    def __init__(
        self,
        path: Path,
        *,
        flush_seconds: float = 2.0,
        flush_entries: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        # Folders this store creates, deepest first: removed again if the run saves nothing.
        self._created = [
            folder for folder in (self.path, *self.path.parents) if not folder.exists()
        ]
        self.manifest_path = self.path / MANIFEST
        self._entries: dict[str, dict[str, Any]] = {}
        self._lines: dict[str, str] = {}  # each entry as its manifest line, encoded once
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # manifest writes happen in order, one at a time
        self._flush_seconds = flush_seconds
        self._flush_entries = flush_entries
        self._clock = clock
        self._unflushed = 0
        self._last_flush = clock()
        self._flush_cost = 0.0  # seconds the last manifest rewrite took
        self._journal: BinaryIO | None = None  # the segment saves append to, once opened
        self._segment = 0  # its number
        # Segments a manifest rewrite took over, and saves journaled in each but not yet
        # listed: a segment is deleted once a manifest lists everything it holds.
        self._retired: list[int] = []
        self._saving: dict[int, int] = {}
        if self.path.is_dir() and self._recover():
            self.flush()

    def _recover(self) -> bool:
        """Load the manifest, and adopt the journaled bodies a killed run wrote after it.

        Returns whether the manifest needs rewriting.
        """
        listed: dict[str, dict[str, Any]] = {}
        if self.manifest_path.is_file():
            try:
                entries = decode_json(self.manifest_path.read_bytes())["entries"]
                listed = {
                    entry["path"]: entry
                    for entry in entries
                    if isinstance(entry, dict) and isinstance(entry.get("path"), str)
                }
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning(
                    "evidence manifest %s unreadable (%s); the bodies it listed are fetched again",
                    self.manifest_path,
                    error,
                )
        for leftover in self.path.rglob(".*.part"):
            leftover.unlink(missing_ok=True)  # a body cut off mid-write by a killed run
        segments = self._segments()
        for _, journal in segments:
            for entry in _journal_entries(journal):
                # The body is adopted only as the run saved it: a line whose body never
                # landed (killed in between) or was changed since is passed over.
                if self._intact(entry):
                    listed[entry["path"]] = entry
        for relative, entry in listed.items():
            self._put(relative, entry)
        if segments:
            self._segment = segments[-1][0] + 1
            self._retired = [number for number, _ in segments]
        return bool(segments)

    def _segments(self) -> list[tuple[int, Path]]:
        found = []
        for journal in self.path.glob("journal-*.jsonl"):
            number = journal.name[len("journal-") : -len(".jsonl")]
            if number.isdigit():
                found.append((int(number), journal))
        return sorted(found)

    def _intact(self, entry: Any) -> bool:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            return False
        try:
            data = (self.path / check_relative(entry["path"])).read_bytes()
        except (OSError, ValueError):
            return False
        return sha256_hex(data) == entry.get("sha256")

    def _put(self, relative: str, entry: dict[str, Any], line: str | None = None) -> None:
        self._entries[relative] = entry
        self._lines[relative] = line or json.dumps(entry, ensure_ascii=False)

    def save(
        self,
        relative: str,
        url: str,
        body: bytes,
        fetched_at: datetime,
        *,
        status: int | None = 200,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one response body as received (atomically) and list it in the manifest.

        Args:
            relative: where in the folder, e.g. from :func:`body_path`; each part letters,
                digits, ``_``, ``.`` and ``-``, not starting with ``.``.
            url: where the body came from.
            body: the bytes as received.
            fetched_at: when they arrived.
            status: the HTTP status they came with (None: no answer came, the body is empty).
            fields: more manifest fields (e.g. :func:`execution_fields`, :func:`answer_fields`).

        Raises:
            ValueError: ``relative`` is not a safe path.
        """
        check_relative(relative)
        entry = _entry(relative, url, body, fetched_at, status, fields or {})
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            # On record before the body can be on disk: a body is never there unjournaled.
            segment = self._append(line)
            self._saving[segment] = self._saving.get(segment, 0) + 1
        # No fsync per body (it halves the fetch rate): the manifest is fsynced, and a body
        # that a power cut left empty fails its SHA-256 check and is fetched again.
        atomic_write_bytes(self.path / relative, body, fsync=False)
        with self._lock:
            self._saving[segment] -= 1
            self._put(relative, entry, line)
            self._unflushed += 1
            # Rewriting a manifest of N entries every few hundred bodies costs N squared over
            # a big run: wait for a quarter more entries, and for ten times what the last
            # rewrite took. One thread claims each rewrite; the others do not queue behind it.
            now = self._clock()
            due = self._unflushed >= max(self._flush_entries, len(self._lines) // 4) or (
                now - self._last_flush >= max(self._flush_seconds, 10 * self._flush_cost)
            )
            if due:
                self._unflushed, self._last_flush = 0, now
        if due:
            self.flush()

    def _append(self, line: str) -> int:
        """Append one entry to the journal (lock held); return the segment's number."""
        if self._journal is None:
            self.path.mkdir(parents=True, exist_ok=True)
            journal = self.path / JOURNAL.format(self._segment)
            fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            self._journal = open(fd, "ab", buffering=0)  # noqa: SIM115 - closed at rotation
        self._journal.write(line.encode("utf-8") + b"\n")
        return self._segment

    def entry(self, relative: str) -> dict[str, Any] | None:
        """The manifest entry of the body at ``relative`` (a copy), or None."""
        with self._lock:
            entry = self._entries.get(relative)
        return dict(entry) if entry is not None else None

    def load(self, relative: str, url: str) -> SavedBody | None:
        """The body saved at ``relative`` from ``url``, if it is data and still what was saved.

        An answer kept as a failure (a 404, a timeout, a truncated body) is not data: None, so
        that the request is made again. A body saved from another URL (another API, say a
        test system, writing into the same folder) is not this one: the report must show the
        data of the API it names.
        A body whose bytes no longer match the hash recorded when it was saved is not used
        (a warning names the file); its entry stays as it was, so nothing blesses the change.
        """
        with self._lock:
            entry = self._entries.get(relative)
        if entry is None or entry.get("url") != url or saved_failure(entry) is not None:
            return None
        path = self.path / relative
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if sha256_hex(data) != entry.get("sha256"):
            log.warning(
                "evidence file %s changed since it was saved (its SHA-256 differs from the "
                "manifest); fetching it again",
                path,
            )
            return None
        fetched_at = parse_time(entry.get("fetched_at")) or datetime.now(UTC)
        return SavedBody(data, url, fetched_at, dict(entry))

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The manifest entries, sorted by path (copies)."""
        with self._lock:
            return [dict(self._entries[key]) for key in sorted(self._entries)]

    def flush(self) -> None:
        """Rewrite manifest.json (atomically) with every body saved so far (none: no file).

        Journal segments that the new manifest covers in full are deleted afterwards.
        """
        with self._flush_lock:
            with self._lock:
                if not self._lines and not self.manifest_path.exists():
                    return
                lines = [self._lines[key] for key in sorted(self._lines)]
                self._unflushed = 0
                self._last_flush = self._clock()
                if self._journal is not None:
                    self._journal.close()
                    self._journal = None
                    self._retired.append(self._segment)
                    self._segment += 1
                # A save still between its journal line and its entry is not in `lines`:
                # its segment must wait for a later rewrite.
                covered = [number for number in self._retired if not self._saving.get(number)]
            # One entry per line, joined from lines encoded as they arrived: rewriting the
            # manifest stays cheap however many entries it has.
            started = self._clock()
            tool = json.dumps(f"reporter {__version__}")
            text = f'{{"tool": {tool}, "entries": [\n' + ",\n".join(lines) + "\n]}\n"
            with atomic_write(self.manifest_path) as handle:
                handle.write(text.encode("utf-8"))
            self._flush_cost = self._clock() - started
            for number in covered:
                (self.path / JOURNAL.format(number)).unlink(missing_ok=True)
            with self._lock:
                self._retired = [number for number in self._retired if number not in covered]
                for number in covered:
                    self._saving.pop(number, None)

    def close(self) -> None:
        """Write the final manifest; leave nothing behind if nothing was saved."""
        self.flush()
        if self.manifest_path.exists():
            return
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:  # not empty, never made, or not ours to remove: keep it
                break

    def answered(self) -> bool:
        """Whether the folder holds any answer of the API (a body with a status), not only
        requests that got none (a dead API's timeouts and refused connections)."""
        with self._lock:
            return any(entry.get("status") is not None for entry in self._entries.values())

    def discard(self) -> None:
        """Remove what the store lists (bodies, manifest, journal) after :meth:`close`, and
        the folders left empty: for a run that got no answer at all, which leaves nothing."""
        with self._lock:
            listed = [self.path / relative for relative in self._entries]
            self._entries.clear()
            self._lines.clear()
        for path in [*listed, self.manifest_path, *(journal for _, journal in self._segments())]:
            path.unlink(missing_ok=True)
        folders = {path.parent for path in listed} - {self.path}
        for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
            for empty in (folder, *folder.parents):
                if empty == self.path or self.path not in empty.parents:
                    break
                try:
                    empty.rmdir()
                except OSError:  # not empty: something else is kept there
                    break
        self.close()

    def manifest_sha256(self) -> str:
        """SHA-256 of the manifest file's bytes (call after :meth:`close`)."""
        return sha256_hex(self.manifest_path.read_bytes())

    def __enter__(self) -> "EvidenceStore":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _entry(
    relative: str,
    url: str | None,
    data: bytes,
    fetched_at: datetime,
    status: int | None,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "path": relative,
        "url": url,
        "status": status,
        "fetched_at": utc_text(fetched_at),
        "bytes": len(data),
        "sha256": sha256_hex(data),
        **fields,
    }


def _journal_entries(journal: Path) -> list[Any]:
    """The entries in a journal segment; a line cut short by a kill is skipped."""
    try:
        data = journal.read_bytes()
    except OSError:
        return []
    entries = []
    for line in data.splitlines():
        try:
            entries.append(decode_json(line))
        except ValueError:
            continue
    return entries
