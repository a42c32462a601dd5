"""A ``{file}.sha256`` line beside every report file (SPEC 5), in ``sha256sum -c`` format.

Example::

    digest = write_checksum(Path("reports/patch-compliance-2026-10.pdf"))
    # reports/patch-compliance-2026-10.pdf.sha256 holds "<digest>  patch-compliance-2026-10.pdf"

The line names the file without its folder, so ``sha256sum -c`` checks it from the folder the
two files sit in, wherever that folder is copied to.
"""

import hashlib
from pathlib import Path

from reporter.fileio import atomic_write_bytes

SUFFIX = ".sha256"
READ_BYTES = 1024 * 1024  # a report is read in pieces of this size, whatever its size


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex, read in pieces."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while piece := handle.read(READ_BYTES):
            digest.update(piece)
    return digest.hexdigest()


def checksum_line(digest: str, name: str) -> str:
    """One ``sha256sum`` line: the hex digest, two spaces (text mode), the file name.

    >>> checksum_line("ab" * 32, "x.csv") == "ab" * 32 + "  x.csv\\n"
    True

    Raises:
        ValueError: the name holds a line break or a backslash (``sha256sum`` would need to
            escape it; report file names never do).
    """
    if any(mark in name for mark in ("\n", "\r", "\\")):
        raise ValueError(f"a checksum line cannot name {name!r}")
    return f"{digest}  {name}\n"


def checksum_path(path: Path) -> Path:
    """Where the checksum of ``path`` is kept: ``{path}.sha256``."""
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def write_checksum(path: Path) -> str:
    """Write ``{path}.sha256`` for the file at ``path`` as it is now (atomically); return the
    SHA-256 in hex.

    Call it once the file is final: a PDF after it is signed, say.
    """
    path = Path(path)
    digest = file_sha256(path)
    atomic_write_bytes(checksum_path(path), checksum_line(digest, path.name).encode("utf-8"))
    return digest
