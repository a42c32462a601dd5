"""The output folder of a run: checked before anything is fetched, and held by one run at a time.

Two runs writing into one ``--out`` at once would overwrite each other's evidence manifest and
reports (SPEC 7). A run takes an exclusive lock on ``{out}/.reporter.lock`` for its whole
length; a second run waits a little for it, then stops with one line naming the folder and
the process that holds it. The lock is the operating system's (``flock``, or ``msvcrt`` on
Windows): it is released when the process ends, however it ends, so a killed run leaves
nothing to clean up by hand.
"""

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from reporter.errors import OutputError, UsageError

LOCK_NAME = ".reporter.lock"
LOCK_WAIT_SECONDS = 10.0  # how long a second run waits for the first before giving up
_POLL_SECONDS = 0.2

try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True


def check_output_folder(folder: Path) -> None:
    """Refuse an output folder that names a file or cannot be written (before logging in).

    Raises:
        UsageError: ``folder`` is a file, or it (or the folder it would be made in) is not
            writable.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is a file, not a folder")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UsageError(f"--out {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {folder}: {existing} is not writable")


@contextlib.contextmanager
def claim_output_folder(
    folder: Path,
    *,
    wait: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Path]:
    """Create ``folder`` if needed and hold its lock for the block; yield the folder.

    A folder this call created is removed again if the block leaves it empty.

    Raises:
        UsageError: the folder is a file or not writable (see :func:`check_output_folder`).
        OutputError: another process holds the folder for longer than ``wait`` seconds.
    """
    folder = Path(folder)
    check_output_folder(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UsageError(f"--out {folder} cannot be used: {error.strerror}") from None
    try:
        deadline = clock() + (LOCK_WAIT_SECONDS if wait is None else wait)
        while not _try_lock(fd):
            if clock() >= deadline:
                raise OutputError(
                    f"another reporter run is writing to {folder} ({_holder(fd)}); "
                    "wait for it to finish, or use another --out"
                )
            sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()} since {started}\n".encode())
        yield folder
    finally:
        os.close(fd)  # releases the lock
        # The lock file stays: removing it would let a run that opened it a moment ago and
        # a run that creates it anew both hold "the" lock. Only a folder this run created
        # and left empty is removed, with its lock file.
        if created and [entry.name for entry in folder.iterdir()] == [LOCK_NAME]:
            with contextlib.suppress(OSError):
                (folder / LOCK_NAME).unlink()
                for made in created:  # deepest first; stops at the first that is not empty
                    made.rmdir()


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it ("process 123 on host since ...")."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "process unknown"
