"""A purge killed (SIGKILL) at random points, several times, then run again: the final catalogue and files equal
those of an uninterrupted purge, and the audit log's chain verifies; a clip held after its deletion was
interrupted gets back the state it had. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from anonymizer.pipelines import holds as holds_pipeline
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.schema import clips
from tests.purge_helpers import add_clip, open_archive

UTC = timezone.utc
N_CLIPS = 600  # enough that six kills, each after a random share of the work, all land mid-purge on a fast machine
KILLS = 6


def build(root: Path, now: datetime, url: str) -> None:
    cat = open_archive(root, url)
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


def progress(engine: Engine) -> int:
    """Clips a purge has started or finished deleting (read while it runs: WAL on SQLite, MVCC on PostgreSQL)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(clips.c.state.in_(("deleting", "deleted")))).scalar()


def snapshot(root: Path, url: str) -> tuple[dict, set]:
    cat = Catalogue.open(url)
    with cat.engine.connect() as conn:
        rows = {r.id: (r.state, r.purge_after, os.path.relpath(r.uri, root))
                for r in conn.execute(select(clips.c.id, clips.c.state, clips.c.purge_after, clips.c.uri))}
    report = cat.audit_verify()
    cat.close()
    assert report.ok, report.problems
    files = {str(p.relative_to(root)) for p in root.rglob("*.mp4")}
    return rows, files


def test_killed_purges_then_a_rerun_equal_an_uninterrupted_purge(tmp_path: Path, backend):
    now = datetime.now(UTC)
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    build(reference, now, backend.url(reference))
    build(crashed, now, backend.url(crashed))
    watch = create_engine(backend.url(crashed))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))

    t0 = time.monotonic()
    done = subprocess.run(purge_cmd(reference), env=env, capture_output=True, text=True, timeout=300)
    full = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    expected = snapshot(reference, backend.url(reference))
    assert any(s == "deleted" for s, _, _ in expected[0].values())

    rng = random.Random(11)
    target = sum(s == "deleted" for s, _, _ in expected[0].values())
    killed = partial = 0
    for _ in range(KILLS):
        before = progress(watch)
        proc = subprocess.Popen(purge_cmd(crashed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill after a random number of clips has moved on, plus a random fraction of one clip's steps.
        wanted = before + rng.randint(1, max(1, target // KILLS))
        deadline = time.monotonic() + 120
        while proc.poll() is None and progress(watch) < wanted and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.02))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        n = sum(s == "deleted" for s, _, _ in snapshot(crashed, backend.url(crashed))[0].values())
        partial += 0 < n < target
    done = subprocess.run(purge_cmd(crashed), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert killed >= KILLS - 1 and partial >= KILLS - 1   # the kills landed in the middle of the deletions
    watch.dispose()
    assert snapshot(crashed, backend.url(crashed)) == expected


class _Killed(BaseException):
    """Stands in for SIGKILL: nothing below the purge catches it."""


@pytest.mark.parametrize("state", ["quarantined", "amended", "raw"])
def test_an_interrupted_deletion_of_a_clip_held_meanwhile_puts_back_the_state_it_had(tmp_path: Path, backend,
                                                                                      monkeypatch, state):
    """A purge killed after it marked a clip ``deleting`` and before it unlinked the file; a hold comes; the next
    purge keeps the clip and puts back the state the clip had (a quarantined copy stays quarantined, an amended
    clip amended), and says so in its audit event."""
    from anonymizer.domain.audit_replay import replay
    from anonymizer.pipelines.purge import purge
    from anonymizer.domain.retention import Policy

    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    root = tmp_path / "arch"
    cat = open_archive(root, backend.url(root))
    c = add_clip(cat, root, 1, "gate", now - timedelta(days=5), state=state)   # security, 3 days: due
    real_unlink = os.unlink

    def killed(path, *a, **kw):
        if str(path) == os.path.realpath(c.uri):
            raise _Killed()
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr("anonymizer.pipelines.purge.os.unlink", killed)
    with pytest.raises(_Killed):
        purge(cat, Policy(), now, root)
    monkeypatch.undo()
    assert cat.get(c.id).state == "deleting" and Path(c.uri).exists()
    holds_pipeline.add_hold(cat, scope="camera", target="gate", kind="incident", reason="r", owner="o", now=now,
                            actor="t", start=now - timedelta(days=6), end=now)
    report = purge(cat, Policy(), now + timedelta(minutes=1), root)
    assert [o.outcome for o in report.outcomes] == ["restored"]
    assert cat.get(c.id).state == state and Path(c.uri).exists()
    restore = [e for e in cat.audit_events() if e.action == "purge.restore"]
    assert len(restore) == 1 and json.loads(restore[0].details)["state"] == state
    assert cat.audit_verify().ok
    # what audit verify expects of the clip, replayed from the log, is the state put back
    created = "quarantine" if state == "quarantined" else "ingest"
    later = [("request.redact", f"clip:{c.id}", {"sha256": "x", "state": "amended"})] if state == "amended" else []
    events = [(created, f"clip:{c.id}", {})] + later + [(e.action, e.object, json.loads(e.details)) for e in restore]
    assert replay(events).clips[c.id].state == state
    cat.close()
