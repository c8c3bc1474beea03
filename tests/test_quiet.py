"""Quiet mode for cron (issue 30 item 7): ``-q`` prints nothing, on stdout or stderr, unless something needs a
person (a failure, an original about to be lost, a hold to review); cron mails only then."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from anonymizer.cli.main import cli
from tests.purge_helpers import add_clip, open_archive
from tests.test_ingest import archive, invoke, tiny_clip  # noqa: F401  (archive is a fixture)

UTC = timezone.utc


def run(args: list[str], root: Path):
    env = {"ANONYMIZER_CONFIG": str(root / "anonymizer.toml")}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_quiet_purge_prints_nothing_on_a_quiet_night(tmp_path: Path):
    root = tmp_path / "arch"
    cat = open_archive(root)
    now = datetime.now(UTC)
    due = add_clip(cat, root, 1, "gate", now - timedelta(days=10))  # security: 3 days, due
    add_clip(cat, root, 2, "lab", now - timedelta(days=1))  # R&D: months away
    add_clip(cat, root, 3, "gate", now - timedelta(days=10), state="anonymised")
    cat.close()
    r = run(["-q", "purge"], root)
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)
    assert not Path(due.uri).exists()
    r = run(["purge", "--dry-run"], root)  # without -q: the summary as before
    assert "would delete 0 clip(s)" in r.stdout


def test_quiet_purge_speaks_when_a_deletion_fails(tmp_path: Path, monkeypatch):
    root = tmp_path / "arch"
    cat = open_archive(root)
    due = add_clip(cat, root, 1, "gate", datetime.now(UTC) - timedelta(days=10))
    cat.close()
    real_unlink = os.unlink

    def refuse(path, *a, **k):
        if str(path) == due.uri:
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *a, **k)

    monkeypatch.setattr(os, "unlink", refuse)
    r = run(["-q", "purge"], root)
    assert r.exit_code == 3
    assert due.id in r.stderr and "error:" in r.stderr
    assert "failures 1" in r.stdout  # the summary too: the mail says what the night did


def test_quiet_purge_names_originals_at_risk(tmp_path: Path):
    root = tmp_path / "arch"
    cat = open_archive(root)
    # R&D keeps 6 months: recorded 5 months and 3 weeks ago, due within warn_days, no copy, no hold
    add_clip(cat, root, 1, "lab", datetime.now(UTC) - timedelta(days=175))
    cat.close()
    r = run(["-q", "purge"], root)
    assert r.exit_code == 0 and r.stdout.startswith("at risk:"), r.stdout


def test_quiet_ingest_lists_no_clip(archive: Path, tmp_path: Path):  # noqa: F811
    cfg = str(archive / "anonymizer.toml")
    tiny_clip(tmp_path / "batch" / "door" / "a.mp4", 1, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(tmp_path / "batch" / "door" / "b.mp4", 2, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    r = invoke("-q", "ingest", str(tmp_path / "batch"), "--move", "-c", cfg)
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)
    (tmp_path / "batch2" / "door").mkdir(parents=True)
    (tmp_path / "batch2" / "door" / "bad.mp4").write_bytes(b"not a video")
    tiny_clip(tmp_path / "batch2" / "door" / "c.mp4", 3, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    r = invoke("-q", "ingest", str(tmp_path / "batch2"), "--move", "-c", cfg)
    assert r.exit_code == 3 and r.stdout == ""
    assert "bad.mp4" in r.stderr and "1 failed" in r.stderr  # the error and the summary: a person must look
    assert "c.mp4" not in r.stderr
