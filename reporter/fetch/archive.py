"""An evidence archive read as a source: the saved bodies instead of the network.

Each body is checked against the manifest's SHA-256 before it is used: a changed file is a
problem, not data. An answer the run kept as a failure (a 404, a timeout, a truncated body)
gives the failure the run reported, with its kind and reason. The fetch loop
(:func:`reporter.fetch.client.fetch_executions`; for a whole archive,
:func:`reporter.fetch.client.read_archive`) applies the same rules to these bodies as to the
network's.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reporter.errors import ArchiveError
from reporter.fetch.contract import Body, Failure, decode_json, parse_time
from reporter.fetch.evidence import MANIFEST, body_path, saved_failure, sha256_hex
from reporter.fetch.state import FetchState
from reporter.problems import FailureKind

CHANGED = "evidence file changed since it was fetched (its SHA-256 differs from the manifest)"


class ArchiveSource:
    """The bodies of a saved evidence folder, read one after the other in the calling thread.

    Use :meth:`open`; ``root`` is the folder that holds the manifest.
    """

    workers = 0  # no threads: reading files is fast, and a problem is easier to follow

    def __init__(self, root: Path, index: dict[str, dict[str, Any]]) -> None:
        self.root = root
        self._index = index

    @classmethod
    def open(cls, archive_dir: Path) -> "ArchiveSource":
        """The archive in ``archive_dir``: an output folder, or its ``evidence`` folder.

        Raises:
            ArchiveError: no readable manifest.
        """
        archive_dir = Path(archive_dir)
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
        return cls(root, index)

    def summary(self, account_alias: str, server_id: str, state: FetchState) -> Body | Failure:
        """The saved summary of a server's executions."""
        return self._read(body_path(account_alias, server_id, None), reused=False)

    def detail(
        self, account_alias: str, server_id: str, execution_id: str, state: FetchState
    ) -> Body | Failure:
        """The saved detail of one execution."""
        return self._read(body_path(account_alias, server_id, execution_id), reused=True)

    def final_concurrency(self) -> int:
        """No requests are made: 0."""
        return 0

    def saved(self, relative: str) -> Body | Failure:
        """The JSON body saved at ``relative`` (any kind of answer), or why there is none."""
        return self._read(relative, reused=True)

    def saved_bytes(self, relative: str) -> bytes | Failure:
        """The bytes saved at ``relative``, checked against the manifest, or why there are none."""
        entry = self._index.get(relative)
        if entry is None:
            return Failure(FailureKind.MISSING_EVIDENCE, "not in the archive")
        try:
            data = (self.root / relative).read_bytes()
        except OSError:
            reason = "not in the archive (its evidence file is missing)"
            return Failure(FailureKind.MISSING_EVIDENCE, reason)
        if sha256_hex(data) != entry.get("sha256"):
            return Failure(FailureKind.CHANGED_EVIDENCE, CHANGED)
        return data

    def _read(self, relative: str, reused: bool) -> Body | Failure:
        data = self.saved_bytes(relative)
        if isinstance(data, Failure):
            return data
        failed = saved_failure(self._index[relative])
        if failed is not None:  # the run's final answer was not data: the same problem again
            return Failure(*failed)
        try:
            payload = decode_json(data)
        except ValueError:
            return Failure(FailureKind.NOT_JSON, "the evidence file is not JSON")
        entry = self._index[relative]
        fetched_at = parse_time(entry.get("fetched_at")) or datetime.fromtimestamp(0, UTC)
        return Body(payload, str(entry.get("url") or ""), fetched_at, reused=reused)
