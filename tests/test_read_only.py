"""A read-only archive (a mounted backup, another user's archive) can be listed and verified (issue 9)."""

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.test_ingest import invoke, tiny_clip
from tests.test_run import setup_archive

REPO = Path(__file__).resolve().parents[1]


def as_reader(args, cwd):
    """Run the CLI as a user who can read the archive but not write it: nobody when we are root (root writes
    anything), else ourselves on an archive made read-only."""
    cmd = [sys.executable, "-m", "anonymizer.cli.main", *args]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv is needed to drop root for this test")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    return subprocess.run(cmd, cwd=cwd, env={"PYTHONPATH": str(REPO), "HOME": "/tmp"}, capture_output=True,
                          text=True, timeout=120)


def test_a_read_only_archive_can_be_listed_and_verified():
    """SQLite only: the catalogue is a file of the read-only archive (a PostgreSQL catalogue is guarded by the
    server's roles, not by the archive's file modes)."""
    root = Path(tempfile.mkdtemp(prefix="anonymizer-ro-"))
    try:
        cfg = setup_archive(root)
        tiny_clip(root / "batch" / "door" / "a.mp4", 91, metadata={"creation_time": "2024-06-01T12:00:00Z"})
        assert invoke("ingest", str(root / "batch"), "-c", cfg).exit_code == 0
        for p in [root, *root.rglob("*")]:  # readable by all, writable by none
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        for args in (["clips", "list"], ["audit", "verify"], ["stats"], ["purge", "--dry-run"], ["requests", "list"]):
            r = as_reader([*args, "-c", cfg], root)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
            assert "Traceback" not in r.stderr
        r = as_reader(["clips", "list", "-c", cfg], root)
        assert "a.mp4" in r.stdout
        r = as_reader(["holds", "add", "--scope", "camera", "--target", "door", "--kind", "incident", "--reason",
                       "r", "--owner", "o", "-c", cfg], root)
        assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    finally:
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o700)
        shutil.rmtree(root)


def test_commands_that_write_say_the_archive_is_read_only():
    """Issue 30 item 3: on an archive this user cannot write (a filesystem remounted read-only, another user's
    archive), every command that would change it ends in one line saying so, exit 1: no traceback on a lock file,
    and no 'try again', which would not help."""
    root = Path(tempfile.mkdtemp(prefix="anonymizer-ro-"))
    try:
        cfg = setup_archive(root)
        tiny_clip(root / "batch" / "door" / "a.mp4", 91, metadata={"creation_time": "2024-06-01T12:00:00Z"})
        assert invoke("ingest", str(root / "batch"), "-c", cfg).exit_code == 0
        tiny_clip(root / "batch2" / "door" / "b.mp4", 92, metadata={"creation_time": "2024-06-01T12:00:00Z"})
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        hold = ["holds", "add", "--scope", "camera", "--target", "door", "--kind", "incident", "--reason", "r",
                "--owner", "o"]
        for args in (["purge"], ["ingest", str(root / "batch2")], ["run", str(root / "batch2"), "-j", "1"], hold):
            r = as_reader([*args, "-c", cfg], root)
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 1 and len(lines) == 1, (args, r.stdout, r.stderr)
            assert "read-only" in lines[0] and "try again" not in lines[0] and "fix:" in lines[0], (args, lines)
    finally:
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o700)
        shutil.rmtree(root)


def test_a_lock_on_a_read_only_filesystem_is_one_error(tmp_path: Path, monkeypatch):
    from anonymizer.errors import AnonymizerError, LockedError
    from anonymizer.store import lock

    def refuse(*_a, **_k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / ".purge.lock"))

    monkeypatch.setattr(lock.os, "open", refuse)
    with pytest.raises(AnonymizerError) as caught:
        lock.FileLock(tmp_path / ".purge.lock", "purge").acquire()
    assert not isinstance(caught.value, LockedError) and caught.value.exit_code == 1
    assert "read-only" in str(caught.value) and "try again" not in str(caught.value)
