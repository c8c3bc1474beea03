"""File safety in one place: private folders, temporary siblings, fsync, atomic rename, leftover clean-up.

The rule everywhere: a file that shows a recording is written to a hidden temporary file beside its final path,
flushed to disk, then renamed over the final path (and the folder flushed), so a reader or a crash sees the old
file or the new one, never half of one. Temporary names are ``.<name>.<tag>-<token><suffix>``: a later run finds
the ones a killed run left (``leftovers``) and removes them when no other process can be writing them.
"""

from __future__ import annotations

import glob
import os
import secrets
import signal
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
#: Test hook: the name of a crash point (``crashpoint``) at which the process kills itself with SIGKILL.
CRASH_ENV = "ANONYMIZER_CRASH_AT"


def private_dirs(path: Path) -> None:
    """Create ``path`` and every missing parent with mode 0700 (not only the last one)."""
    missing = [d for d in [path, *path.parents] if not d.exists()]
    for d in reversed(missing):
        d.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(d, DIR_MODE)  # mkdir's mode is masked by the umask


def output_dirs(path: Path, mode: int = 0o750) -> None:
    """Create ``path`` and every missing parent with ``mode`` whatever the umask (an output folder never open to
    all, even under umask 000); existing folders are left as they are."""
    missing = [d for d in [path, *path.parents] if not d.exists()]
    for d in reversed(missing):
        d.mkdir(mode=mode, exist_ok=True)
        os.chmod(d, mode)


def temp_sibling(path: Path, tag: str = "partial") -> Path:
    """A hidden temporary name beside ``path`` that keeps its suffix (a container format follows the suffix)."""
    return path.with_name(f".{path.stem}.{tag}-{os.getpid()}-{secrets.token_hex(3)}{path.suffix}")


def leftovers(path: Path, tag: str = "partial") -> list[Path]:
    """Temporary siblings of ``path`` with ``tag`` (written by this module, by any process)."""
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{glob.escape(path.stem)}.{tag}-*{glob.escape(path.suffix)}"))


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot flush a folder; the rename is still atomic
    finally:
        os.close(fd)


def publish(temp: Path, path: Path) -> None:
    """Flush ``temp`` and rename it over ``path``, then flush the folder (the rename survives a power cut)."""
    fsync_file(temp)
    os.replace(temp, path)
    fsync_dir(path.parent)


def unlink(path: Path) -> bool:
    """Remove ``path`` (and flush its folder); False when it was already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def write_private(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` (0600), creating private folders as needed."""
    private_dirs(path.parent)
    tmp = temp_sibling(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def crashpoint(name: str) -> None:
    """Die here with SIGKILL when the environment names this point (tests of crash safety; a no-op otherwise)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
