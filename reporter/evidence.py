"""Evidence: every raw API response body as received, and a manifest to check them against.

Layout of the evidence folder::

    {alias}/{server_id}/{execution_id}.json   execution details
    {alias}/{server_id}/_summary.json         server summaries
    manifest.json                             URL, status, time, size and SHA-256 of each

Only answers that were used are kept: a 200 whose body is JSON. Error statuses and bodies
that are not JSON are not evidence of anything; they are reported as problems instead. A body
is held in memory only while it is checked to be JSON, then written and let go.

A body is written (atomically) the moment it arrives; the manifest is rewritten every few
seconds and at :meth:`EvidenceStore.close`. If a run is killed in between, the next
:class:`EvidenceStore` on the folder re-hashes the files the manifest does not list, so the
folder is always usable to resume from or to re-render with :func:`read_archive`.
"""

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reporter import __version__
from reporter.api import (
    FetchResult,
    FetchStats,
    Outcome,
    collect,
    decode_json,
    detail_path,
    id_problem,
    is_final,
    parse_time,
    payload_status,
    plan_discovery,
    screen_targets,
    summary_path,
)
from reporter.errors import ArchiveError
from reporter.fileio import atomic_write, atomic_write_bytes
from reporter.problems import FETCH_FAILED, NOT_FOUND, NOT_JSON, Problem
from reporter.records import FetchedExecution, Period, Target

log = logging.getLogger("reporter.evidence")

MANIFEST = "manifest.json"
SUMMARY = "_summary"  # file stem of a server summary; cannot clash with an execution ID
CHANGED = "evidence file changed since it was fetched (its SHA-256 differs from the manifest)"


def relative_path(account_alias: str, server_id: str, execution_id: str | None) -> str:
    """Where a body lives inside the evidence folder (IDs validated first: no path tricks)."""
    reason = id_problem(account_alias, server_id, execution_id)
    if reason:
        raise ValueError(reason)
    return f"{account_alias}/{server_id}/{execution_id or SUMMARY}.json"


def parse_relative_path(path: str) -> tuple[str, str, str | None] | None:
    """(alias, server, execution or None) for a path :func:`relative_path` could have made."""
    parts = path.split("/")
    if len(parts) != 3 or not parts[2].endswith(".json"):
        return None
    alias, server, stem = parts[0], parts[1], parts[2][: -len(".json")]
    execution_id = None if stem == SUMMARY else stem
    if id_problem(alias, server, execution_id):
        return None
    return alias, server, execution_id


def utc_text(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class SavedExecution:
    """An execution detail read back from the evidence folder."""

    payload: Any
    url: str
    fetched_at: datetime


class EvidenceStore:
    """The evidence folder of one output folder, safe to use from many threads.

    Args:
        path: the evidence folder (created if needed); ``.path`` afterwards.
        flush_seconds: rewrite the manifest at least this often while bodies arrive (or ten
            times as long as the last rewrite took, if longer).
        flush_entries: ... or after this many new bodies (or a quarter of the bodies saved so
            far, if more), whichever comes first.
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
        self.path.mkdir(parents=True, exist_ok=True)
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
        if self._recover():
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
            ids = parse_relative_path(relative)
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
            entry = self._entry(relative, url, data, digest, fetched_at, ids, payload)
            self._put(relative, entry)
            changed = True
        return changed or set(listed) != set(self._entries)

    def _put(self, relative: str, entry: dict[str, Any]) -> None:
        self._entries[relative] = entry
        self._lines[relative] = json.dumps(entry, ensure_ascii=False)

    def _entry(
        self,
        relative: str,
        url: str | None,
        data: bytes,
        digest: str,
        fetched_at: datetime,
        ids: tuple[str, str, str | None],
        payload: Any = None,
    ) -> dict[str, Any]:
        alias, server, execution_id = ids
        status = None
        if execution_id is not None:
            if payload is None:
                try:
                    payload = decode_json(data)
                except ValueError:
                    payload = None
            status = payload_status(payload)
        return {
            "path": relative,
            "url": url,
            "status": 200,
            "fetched_at": utc_text(fetched_at),
            "bytes": len(data),
            "sha256": digest,
            "kind": "summary" if execution_id is None else "detail",
            "account_alias": alias,
            "server_id": server,
            "execution_id": execution_id,
            "execution_status": status,
        }

    def save(
        self,
        kind: str,
        account_alias: str,
        server_id: str,
        execution_id: str | None,
        url: str,
        body: bytes,
        fetched_at: datetime,
        payload: Any = None,
    ) -> None:
        """Write one response body as received (atomically) and list it in the manifest.

        Args:
            kind: "detail" or "summary" (a summary has no execution ID).
            payload: the decoded body, if already at hand (saves decoding it again).
        """
        if (kind == "summary") != (execution_id is None):
            raise ValueError(
                f"a {kind} is saved {'without' if kind == 'summary' else 'with'} an execution ID"
            )
        relative = relative_path(account_alias, server_id, execution_id)
        # No fsync per body (it halves the fetch rate): the manifest is fsynced, and a body
        # that a power cut left empty fails its SHA-256 check and is fetched again.
        atomic_write_bytes(self.path / relative, body, fsync=False)
        ids = (account_alias, server_id, execution_id)
        entry = self._entry(relative, url, body, sha256_hex(body), fetched_at, ids, payload)
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

    def reusable(
        self, account_alias: str, server_id: str, execution_id: str, url: str | None = None
    ) -> SavedExecution | None:
        """A saved detail that is finished (completed or failed) and intact, else None.

        ``url`` is where it would be fetched from. A detail saved from another URL (another
        API, say a test system, writing into the same folder) is not reused: the report must
        show the data of the API it names. ``url`` also fills in the URL of an entry adopted
        from a killed run that had not written its manifest yet.
        """
        relative = relative_path(account_alias, server_id, execution_id)
        with self._lock:
            entry = self._entries.get(relative)
        if entry is None or entry.get("execution_status") is None:
            return None
        if url and entry.get("url") and entry["url"] != url:
            return None
        try:
            data = (self.path / relative).read_bytes()
            payload = decode_json(data)
        except (OSError, ValueError):
            return None
        if sha256_hex(data) != entry.get("sha256") or not is_final(payload):
            return None
        if not entry.get("url") and url:
            with self._lock:
                self._put(relative, {**entry, "url": url})
            entry = {**entry, "url": url}
        fetched_at = parse_time(entry.get("fetched_at")) or datetime.now(UTC)
        return SavedExecution(payload, entry.get("url") or "", fetched_at)

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
            except OSError:  # not empty (or not ours to remove): keep it and its parents
                break

    def manifest_sha256(self) -> str:
        """SHA-256 of the manifest file's bytes (call after :meth:`close`)."""
        return sha256_hex(self.manifest_path.read_bytes())

    def __enter__(self) -> "EvidenceStore":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _has_url(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("url"), str) and "/servers/" in entry["url"]


def _api_path(alias: str, server: str, execution_id: str | None) -> str:
    if execution_id is None:
        return summary_path(alias, server)
    return detail_path(alias, server, execution_id)


def read_archive(
    archive_dir: Path, targets: Sequence[Target], period: Period | None
) -> FetchResult:
    """Fetch from a saved evidence folder instead of the network, with the same outcome rules.

    ``archive_dir`` may be the output folder or its ``evidence`` folder. Each body is checked
    against the manifest's SHA-256; a changed file becomes a problem, not data.

    Raises:
        ArchiveError: no readable manifest.
    """
    started = time.perf_counter()
    root, index = _open_archive(Path(archive_dir))
    outcomes, to_fetch, explicit = screen_targets(targets)
    for position in to_fetch:
        target = targets[position]
        alias, server, line = target.account_alias, target.server_id, target.line
        if target.execution_id is not None:
            outcomes[position] = [_archived_detail(root, index, target, target.execution_id)]
            continue
        payload, problem = _archived_body(root, index, relative_path(alias, server, None))
        if problem is not None:
            kind, reason = problem
            outcomes[position] = [Problem(kind, reason, line, alias, server)]
            continue
        outcome: Outcome = []
        problems, execution_ids = plan_discovery(target, payload, period, explicit)
        outcome.extend(problems)
        for execution_id in execution_ids:
            outcome.append(_archived_detail(root, index, target, execution_id, discovered=True))
        outcomes[position] = outcome
    reused = sum(isinstance(item, FetchedExecution) for outcome in outcomes for item in outcome)
    stats = FetchStats(reused=reused, seconds=round(time.perf_counter() - started, 3))
    return collect(outcomes, stats)


def _open_archive(archive_dir: Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    for root in (archive_dir, archive_dir / "evidence"):
        manifest = root / MANIFEST
        if manifest.is_file():
            break
    else:
        raise ArchiveError(
            f"{archive_dir} is not an evidence archive: no {MANIFEST} in it or in evidence/"
        )
    try:
        document = decode_json(manifest.read_bytes())
        entries = document["entries"]
        index = {
            entry["path"]: entry
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("path"), str)
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ArchiveError(f"evidence manifest {manifest} cannot be read: {error}") from None
    return root, index


def _archived_body(
    root: Path, index: dict[str, dict[str, Any]], relative: str
) -> tuple[Any, tuple[str, str] | None]:
    """(decoded body, None), or (None, (problem kind, reason))."""
    entry = index.get(relative)
    if entry is None:
        return None, (NOT_FOUND, "not in the archive")
    try:
        data = (root / relative).read_bytes()
    except OSError:
        return None, (NOT_FOUND, "not in the archive (its evidence file is missing)")
    if sha256_hex(data) != entry.get("sha256"):
        return None, (FETCH_FAILED, CHANGED)
    try:
        return decode_json(data), None
    except ValueError:
        return None, (NOT_JSON, "the evidence file is not JSON")


def _archived_detail(
    root: Path,
    index: dict[str, dict[str, Any]],
    target: Target,
    execution_id: str,
    discovered: bool = False,
) -> FetchedExecution | Problem:
    alias, server = target.account_alias, target.server_id
    relative = relative_path(alias, server, execution_id)
    payload, problem = _archived_body(root, index, relative)
    if problem is not None:
        return Problem(problem[0], problem[1], target.line, alias, server, execution_id)
    entry = index[relative]
    fetched_at = parse_time(entry.get("fetched_at")) or datetime.fromtimestamp(0, UTC)
    return FetchedExecution(
        alias,
        server,
        execution_id,
        payload,
        str(entry.get("url") or ""),
        fetched_at,
        target.line,
        discovered,
    )
