"""Writing files whole or not at all."""

import contextlib
import errno
import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from reporter.errors import OutputError


def _process_umask() -> int:
    """The process umask, read without changing it (``os.umask`` can only set and return)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


# Files are created as ordinary files would be (0666 less the umask): temporary files start
# owner-only, which would otherwise leave every report unreadable to the group that shares it.
FILE_MODE = 0o666 & ~_process_umask()


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    A crash or Ctrl-C mid-write leaves the previous file (or none), never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` if the block succeeds.

    For libraries that write to a file name rather than a file object.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_part_numbers = itertools.count()


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` whole or not at all, with as few system calls as possible.

    For the many small files of a run (a few syscalls each matter when 32 threads share the
    GIL). ``fsync=False`` skips forcing the bytes to disk before the rename: after a power
    cut the file may then be empty, so use it only for data the reader verifies.
    """
    path = Path(path)
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}-{next(_part_numbers)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            break
        except FileExistsError:
            continue
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# What running out of room (or of rights) while writing is called in the one-line error.
OUTPUT_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file size limit was reached",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


@contextlib.contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """Turn a full disk, quota or file size limit while writing ``path`` into OutputError.

    The environment, not the program, is at fault: one line naming the file, exit code 2.
    Whatever was being written was written atomically, so nothing half-written is left.
    """
    try:
        yield
    except Exception as error:
        cause = error if isinstance(error, OSError) else error.__cause__
        if isinstance(cause, OSError) and cause.errno in OUTPUT_ERRNOS:
            raise OutputError(f"cannot write {path}: {OUTPUT_ERRNOS[cause.errno]}") from error
        raise
