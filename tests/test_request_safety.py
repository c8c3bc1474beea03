"""``requests apply`` against holds, identical content, leases and SIGKILL at every step (issue 9).

Each test builds its archive with real clips (PyAV) through the CLI, as tests/test_requests_e2e.py does."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from anonymizer.domain.clips import ClipRecord
from anonymizer.pipelines.ingest import sha256_of
from anonymizer.safe_files import CRASH_ENV
from anonymizer.store import intents
from anonymizer.store.catalogue import ClipFilter
from anonymizer.store.leases import new_holder
from tests.test_requests_e2e import N, by_uri, catalogue, cli_json, invoke, new, world  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[1]


def add_copy(world, key="a", extra=b"\0") -> ClipRecord:
    """An anonymised copy of a raw clip: the same frames (a few bytes more, so another sha256)."""
    raw = by_uri(world, key)
    copy_path = world["arch"] / "anonymised" / f"{key}.mp4"
    copy_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(world["clips"][key], copy_path)
    with open(copy_path, "ab") as fh:
        fh.write(extra)
    sha, size = sha256_of(copy_path)
    copy = ClipRecord(**{**raw.__dict__, "id": sha[:16], "sha256": sha, "size": size, "uri": str(copy_path),
                         "state": "anonymised", "derived_from": raw.id, "purge_after": None})
    with catalogue(world) as cat, cat.transaction() as conn:
        cat.add_clip(conn, copy)
    return copy


def objection(world, start="2024-06-01T10:00:00.5Z", end="2024-06-01T10:00:00.9Z", kind="objection"):
    req = new(world, kind, start, end, "lab1")
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])
    return req, found["segments"]


def consistent(world) -> dict:
    """Every live clip's file matches its catalogue row; no intent, lease or temporary file is left; the audit
    chain verifies. Returns {clip id: (state, frames, file exists)}."""
    out = {}
    with catalogue(world) as cat:
        for c in cat.find(ClipFilter()):
            exists = Path(c.uri).exists()
            if c.state != "deleted":
                assert exists, c
                assert sha256_of(Path(c.uri))[0] == c.sha256, c
            else:
                assert not exists, c
            out[c.id] = (c.state, c.frames, exists)
        with cat.engine.connect() as conn:
            assert intents.pending(conn) == []
        assert cat.leases() == {}
        report = cat.audit_verify()
        assert report.ok, report.problems
    left = [p for p in world["arch"].rglob(".*") if ".amend-" in p.name or ".partial" in p.name]
    assert not left, left
    return out


def test_redact_and_cut_refuse_a_held_clip_and_change_nothing(world):
    a = by_uri(world, "a")
    r = invoke("holds", "add", "-c", world["cfg"], "--scope", "clip", "--target", a.id, "--kind", "legal",
               "--reason", "court case 12", "--owner", "legal")
    assert r.exit_code == 0, r.output
    req, segs = objection(world)
    for action in ("redact", "cut", "remove"):
        r = invoke("requests", "apply", req["id"], "-c", world["cfg"], "--segments", segs[0]["id"],
                   "--action", action, "--json")
        assert r.exit_code != 0, r.output
        out = json.loads(r.stdout)
        (failed,) = out["failed"]
        assert "held" in failed["error"] and "release the hold" in failed["error"], failed
        assert "Traceback" not in r.output
    assert sha256_of(world["clips"]["a"])[0] == a.sha256  # the held file is untouched
    assert by_uri(world, "a").sha256 == a.sha256 and by_uri(world, "a").state == "raw"
    consistent(world)


def test_whole_clip_solid_redaction_of_a_clip_and_its_copy_gives_two_identical_files(world):
    add_copy(world)
    req, segs = objection(world, "2024-06-01T09:59:00Z", "2024-06-01T10:01:00Z")
    raw_seg = next(s for s in segs if s["clip_id"] == by_uri(world, "a").id)
    done = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", raw_seg["id"],
                    "--method", "solid")
    assert not done["failed"], done
    copy_path = world["arch"] / "anonymised" / "a.mp4"
    assert sha256_of(world["clips"]["a"])[0] == sha256_of(copy_path)[0]  # both black, byte for byte
    consistent(world)
    cli_json("requests", "close", req["id"], "-c", world["cfg"])


def test_apply_refuses_a_clip_another_command_has_leased(world):
    a = by_uri(world, "a")
    holder = new_holder()
    with catalogue(world) as cat:
        assert cat.lease([a.id], holder, "run") == {}
    req, segs = objection(world)
    r = invoke("requests", "apply", req["id"], "-c", world["cfg"], "--segments", segs[0]["id"], "--json")
    assert r.exit_code != 0
    (failed,) = json.loads(r.stdout)["failed"]
    assert "in use by run" in failed["error"]
    assert sha256_of(world["clips"]["a"])[0] == a.sha256
    with catalogue(world) as cat:
        cat.release([a.id], holder)
    done = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", segs[0]["id"])
    assert not done["failed"]
    consistent(world)


def apply_cmd(world, req_id, seg_id, action):
    return [sys.executable, "-m", "anonymizer.cli.main", "-q", "requests", "apply", req_id, "-c", world["cfg"],
            "--segments", seg_id, "--action", action]


POINTS = {
    "redact": ["apply.amend.intent", "apply.amend.written", "apply.amend.commit", "apply.amend.renamed"],
    "remove": ["apply.remove.commit", "apply.remove.unlinked"],
}


@pytest.mark.parametrize("action,point", [(a, p) for a, ps in POINTS.items() for p in ps])
def test_apply_killed_at_each_step_then_rerun_converges(world, action, point):
    add_copy(world)
    req, segs = objection(world, kind="objection" if action == "redact" else "erasure")
    raw_seg = next(s for s in segs if s["clip_id"] == by_uri(world, "a").id)
    env = dict(os.environ, PYTHONPATH=str(REPO))

    killed = subprocess.run(apply_cmd(world, req["id"], raw_seg["id"], action),
                            env={**env, CRASH_ENV: point}, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    rerun = subprocess.run(apply_cmd(world, req["id"], raw_seg["id"], action), env=env, capture_output=True,
                           text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    after = consistent(world)
    shown = cli_json("requests", "show", req["id"], "-c", world["cfg"])
    assert all(s["handled_at"] for s in shown["segments"] if s["clip_id"] in after)
    states = sorted(s for s, _, _ in after.values())
    if action == "redact":
        assert states == ["amended", "anonymised", "raw", "raw"]
        assert all(frames == N for _, frames, _ in after.values())
    else:
        assert states == ["deleted", "deleted", "raw", "raw"]
        assert not world["clips"]["a"].exists() and not (world["arch"] / "anonymised" / "a.mp4").exists()
    cli_json("requests", "close", req["id"], "-c", world["cfg"])
