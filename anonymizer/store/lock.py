"""An exclusive, non-blocking lock file: one purge (or other exclusive job) at a time per archive.

``flock`` on an open file: the kernel releases it when the process dies, even by SIGKILL, so a crashed run never
leaves a stale lock behind. The file keeps the holder's pid for the message a second process gets.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from anonymizer.errors import LockedError, ReadOnlyError

log = logging.getLogger(__name__)


class FileLock:
    """``with FileLock(path):`` ... raises LockedError (exit 75) at once when another process holds it (with
    ``wait``: waits for it)."""

    def __init__(self, path: Path, what: str = "job", wait: bool = False) -> None:
        self.path = Path(path)
        self.what = what
        self.wait = wait  # block until the holder is done instead of raising LockedError
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            raise ReadOnlyError(
                f"{self.path.parent} is read-only to this user ({exc.strerror}): the {self.what} cannot take its "
                f"lock {self.path.name}; fix: run it as the archive's owner, or remount the archive read-write "
                "(a filesystem remounted read-only after an error needs checking first)") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            if self.wait:
                log.info("waiting for another %s to finish (lock %s)", self.what, self.path)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._take(fd)
                return
            try:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            finally:
                os.close(fd)
            raise LockedError(f"another {self.what} is running (pid {holder}, lock {self.path}); "
                              "try again later") from exc
        self._take(fd)

    def _take(self, fd: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
