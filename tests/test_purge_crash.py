"""A purge killed (SIGKILL) at random points, several times, then run again: the final catalogue and files equal
those of an uninterrupted purge, and the audit log's chain verifies."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from anonymizer.pipelines import holds as holds_pipeline
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.schema import clips
from tests.purge_helpers import add_clip, open_archive

UTC = timezone.utc
N_CLIPS = 600  # enough that six kills, each after a random share of the work, all land mid-purge on a fast machine
KILLS = 6


def build(root: Path, now: datetime) -> None:
    cat = open_archive(root)
    rng = random.Random(7)
    for i in range(N_CLIPS):
        cam = rng.choice(["gate", "lab", "street"])
        add_clip(cat, root, i, cam, now - timedelta(days=rng.choice([1, 2, 5, 30, 70, 200]), minutes=i),
                 state="anonymised" if i % 17 == 0 else "raw", write=i % 23 != 0)
    holds_pipeline.add_hold(cat, scope="camera", target="street", kind="incident", reason="r", owner="o", now=now,
                            actor="t", start=now - timedelta(days=80), end=now - timedelta(days=60))
    cat.close()


def purge_cmd(root: Path) -> list[str]:
    return [sys.executable, "-m", "anonymizer.cli.main", "-q", "purge", "-c", str(root / "anonymizer.toml")]


def progress(root: Path) -> int:
    """Clips a purge has started or finished deleting (read with sqlite3 directly: WAL lets us read meanwhile)."""
    db = sqlite3.connect(f"file:{root / 'catalogue.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT count(*) FROM clips WHERE state IN ('deleting', 'deleted')").fetchone()[0]
    finally:
        db.close()


def snapshot(root: Path) -> tuple[dict, set]:
    cat = Catalogue.open(f"sqlite:///{root / 'catalogue.sqlite'}")
    with cat.engine.connect() as conn:
        rows = {r.id: (r.state, r.purge_after, os.path.relpath(r.uri, root))
                for r in conn.execute(select(clips.c.id, clips.c.state, clips.c.purge_after, clips.c.uri))}
    report = cat.audit_verify()
    cat.close()
    assert report.ok, report.problems
    files = {str(p.relative_to(root)) for p in root.rglob("*.mp4")}
    return rows, files


def test_killed_purges_then_a_rerun_equal_an_uninterrupted_purge(tmp_path: Path):
    now = datetime.now(UTC)
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    build(reference, now)
    build(crashed, now)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))

    t0 = time.monotonic()
    done = subprocess.run(purge_cmd(reference), env=env, capture_output=True, text=True, timeout=300)
    full = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    expected = snapshot(reference)
    assert any(s == "deleted" for s, _, _ in expected[0].values())

    rng = random.Random(11)
    target = sum(s == "deleted" for s, _, _ in expected[0].values())
    killed = partial = 0
    for _ in range(KILLS):
        before = progress(crashed)
        proc = subprocess.Popen(purge_cmd(crashed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill after a random number of clips has moved on, plus a random fraction of one clip's steps.
        wanted = before + rng.randint(1, max(1, target // KILLS))
        deadline = time.monotonic() + 120
        while proc.poll() is None and progress(crashed) < wanted and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.02))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        n = sum(s == "deleted" for s, _, _ in snapshot(crashed)[0].values())
        partial += 0 < n < target
    done = subprocess.run(purge_cmd(crashed), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert killed >= KILLS - 1 and partial >= KILLS - 1   # the kills landed in the middle of the deletions
    assert snapshot(crashed) == expected
