"""Evidence: every raw API response body as received, and a manifest to check them against.

Layout of the evidence folder::

    {alias}/{server_id}/{execution_id}.json   execution details
    {alias}/{server_id}/_summary.json         server summaries
    manifest.json                             URL, status, time, size and SHA-256 of each

The store itself keeps any body under any safe relative path (:meth:`EvidenceStore.save`);
:func:`body_path` and :func:`execution_fields` say where and how the Patching API's answers are
kept. Only answers that were used are saved today: a 200 whose body is JSON. A body is held in
memory only while it is checked to be JSON, then written and let go.

A body is written (atomically) the moment it arrives; the manifest is rewritten every few
seconds and at :meth:`EvidenceStore.close`. If a run is killed in between, the next
:class:`EvidenceStore` on the folder re-hashes the files the manifest does not list, so the
folder is always usable to resume from or to re-render from (:mod:`reporter.fetch.archive`).
"""

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reporter import __version__
from reporter.fetch.contract import (
    decode_json,
    detail_path,
    id_problem,
    parse_time,
    payload_status,
    summary_path,
)
from reporter.fileio import atomic_write, atomic_write_bytes

log = logging.getLogger("reporter.evidence")

MANIFEST = "manifest.json"
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


def parse_body_path(path: str) -> tuple[str, str, str | None] | None:
    """(alias, server, execution or None) for a path :func:`body_path` could have made."""
    parts = path.split("/")
    if len(parts) != 3 or not parts[2].endswith(".json"):
        return None
    alias, server, stem = parts[0], parts[1], parts[2][: -len(".json")]
    execution_id = None if stem == SUMMARY else stem
    if id_problem(alias, server, execution_id):
        return None
    return alias, server, execution_id


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
        if self.path.is_dir() and self._recover():
            self.flush()

    def _recover(self) -> bool:
        """Load the manifest, keep the entries whose files still match, adopt unlisted files.

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
                    "evidence manifest %s unreadable (%s); rebuilt", self.manifest_path, error
                )
        for leftover in self.path.glob("*/*/.*.part"):
            leftover.unlink(missing_ok=True)  # a body cut off mid-write by a killed run
        changed = False
        base_url = next(
            (e["url"].rsplit("/servers/", 1)[0] for e in listed.values() if _has_url(e)), None
        )
        for file in sorted(self.path.glob("*/*/*.json")):
            relative = file.relative_to(self.path).as_posix()
            ids = parse_body_path(relative)
            if ids is None:
                continue
            data = file.read_bytes()
            digest = sha256_hex(data)
            entry = listed.get(relative)
            if entry is not None and entry.get("sha256") == digest:
                self._put(relative, entry)
                continue
            try:
                payload = decode_json(data)
            except ValueError:
                # Only a power cut leaves one of our bodies like this: fetch it again.
                log.warning("evidence file %s is not JSON; not reused", file)
                continue
            # Written after the last manifest flush (the run was killed): adopt it.
            url = entry.get("url") if entry else None
            if url is None and base_url is not None:
                url = base_url + _api_path(*ids)
            fetched_at = datetime.fromtimestamp(file.stat().st_mtime, UTC)
            fields = execution_fields(*ids, payload)
            self._put(relative, _entry(relative, url, data, fetched_at, 200, fields))
            changed = True
        return changed or set(listed) != set(self._entries)

    def _put(self, relative: str, entry: dict[str, Any]) -> None:
        self._entries[relative] = entry
        self._lines[relative] = json.dumps(entry, ensure_ascii=False)

    def save(
        self,
        relative: str,
        url: str,
        body: bytes,
        fetched_at: datetime,
        *,
        status: int = 200,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one response body as received (atomically) and list it in the manifest.

        Args:
            relative: where in the folder, e.g. from :func:`body_path`; each part letters,
                digits, ``_``, ``.`` and ``-``, not starting with ``.``.
            url: where the body came from.
            body: the bytes as received.
            fetched_at: when they arrived.
            status: the HTTP status they came with.
            fields: more manifest fields (e.g. :func:`execution_fields`).

        Raises:
            ValueError: ``relative`` is not a safe path.
        """
        check_relative(relative)
        # No fsync per body (it halves the fetch rate): the manifest is fsynced, and a body
        # that a power cut left empty fails its SHA-256 check and is fetched again.
        atomic_write_bytes(self.path / relative, body, fsync=False)
        entry = _entry(relative, url, body, fetched_at, status, fields or {})
        with self._lock:
            self._put(relative, entry)
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

    def entry(self, relative: str) -> dict[str, Any] | None:
        """The manifest entry of the body at ``relative`` (a copy), or None."""
        with self._lock:
            entry = self._entries.get(relative)
        return dict(entry) if entry is not None else None

    def load(self, relative: str, url: str) -> SavedBody | None:
        """The body saved at ``relative`` from ``url``, if it is still what was saved.

        A body saved from another URL (another API, say a test system, writing into the
        same folder) is not this one: the report must show the data of the API it names.
        An entry recovered from a killed run without a URL takes ``url``.
        """
        with self._lock:
            entry = self._entries.get(relative)
        if entry is None or (entry.get("url") and entry["url"] != url):
            return None
        try:
            data = (self.path / relative).read_bytes()
        except OSError:
            return None
        if sha256_hex(data) != entry.get("sha256"):
            return None
        if not entry.get("url"):
            entry = {**entry, "url": url}
            with self._lock:
                self._put(relative, entry)
        fetched_at = parse_time(entry.get("fetched_at")) or datetime.now(UTC)
        return SavedBody(data, url, fetched_at, dict(entry))

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The manifest entries, sorted by path (copies)."""
        with self._lock:
            return [dict(self._entries[key]) for key in sorted(self._entries)]

    def flush(self) -> None:
        """Rewrite manifest.json (atomically) with every body saved so far (none: no file)."""
        with self._flush_lock:
            with self._lock:
                if not self._lines and not self.manifest_path.exists():
                    return
                lines = [self._lines[key] for key in sorted(self._lines)]
                self._unflushed = 0
                self._last_flush = self._clock()
            # One entry per line, joined from lines encoded as they arrived: rewriting the
            # manifest stays cheap however many entries it has.
            started = self._clock()
            tool = json.dumps(f"reporter {__version__}")
            text = f'{{"tool": {tool}, "entries": [\n' + ",\n".join(lines) + "\n]}\n"
            with atomic_write(self.manifest_path) as handle:
                handle.write(text.encode("utf-8"))
            self._flush_cost = self._clock() - started

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
    status: int,
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


def _has_url(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("url"), str) and "/servers/" in entry["url"]


def _api_path(alias: str, server: str, execution_id: str | None) -> str:
    if execution_id is None:
        return summary_path(alias, server)
    return detail_path(alias, server, execution_id)
