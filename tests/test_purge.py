"""The purge pipeline on a real SQLite catalogue and real files: what it deletes, what it never deletes, how it
records it, and the commands around it (holds, stats, lock, exit codes)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from anonymizer.domain.retention import Policy
from anonymizer.errors import ConfigError, LockedError
from anonymizer.pipelines import holds as holds_pipeline
from anonymizer.pipelines.purge import LOCK_NAME, plan, purge
from anonymizer.pipelines.stats import stats
from anonymizer.store.holds import POLICY_FINGERPRINT, get_state
from anonymizer.store.lock import FileLock
from anonymizer.store.schema import clips
from tests.purge_helpers import add_clip, open_archive

UTC = timezone.utc
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
POLICY = Policy()


@pytest.fixture
def arch(tmp_path: Path, backend):
    root = tmp_path / "arch"
    cat = open_archive(root, backend.url(root))
    yield cat, root
    cat.close()


def states(cat):
    with cat.engine.connect() as conn:
        return {r.id: r.state for r in conn.execute(select(clips.c.id, clips.c.state))}


def events(cat, action=None):
    return [e for e in cat.audit_events() if action is None or e.action == action]


def test_deletes_due_and_keeps_the_rest(arch):
    cat, root = arch
    due = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4))                 # security, 3 days: due
    fresh = add_clip(cat, root, 2, "gate", NOW - timedelta(days=2))               # not due
    anon = add_clip(cat, root, 3, "gate", NOW - timedelta(days=400), state="anonymised")
    rnd = add_clip(cat, root, 4, "lab", NOW - timedelta(days=150))                # 6 months: not due
    street = add_clip(cat, root, 5, "street", NOW - timedelta(days=70))           # external, 2 months: due
    report = purge(cat, POLICY, NOW, root)
    assert report.exit_code == 0 and not report.failures
    st = states(cat)
    assert st[due.id] == st[street.id] == "deleted"
    assert st[fresh.id] == st[rnd.id] == "raw" and st[anon.id] == "anonymised"
    assert not Path(due.uri).exists() and not Path(street.uri).exists()
    assert all(Path(c.uri).exists() for c in (fresh, anon, rnd))
    deleted = events(cat, "purge.delete")
    assert sorted(e.object for e in deleted) == sorted([f"clip:{due.id}", f"clip:{street.id}"])
    d = json.loads(deleted[0].details)
    assert d["outcome"] == "deleted" and d["rule"] and d["purge_after"]
    assert cat.audit_verify().ok
    # a second run has nothing left to do
    again = purge(cat, POLICY, NOW + timedelta(seconds=1), root)
    assert [o for o in again.outcomes] == []


def test_dry_run_changes_nothing(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4))
    n = len(events(cat))
    report = purge(cat, POLICY, NOW, root, dry_run=True)
    assert [o.outcome for o in report.outcomes] == ["would_delete"]
    assert states(cat)[c.id] == "raw" and Path(c.uri).exists() and len(events(cat)) == n


def test_holds_block_until_released(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4))
    other = add_clip(cat, root, 2, "gate", NOW - timedelta(days=10))
    h = holds_pipeline.add_hold(cat, scope="camera", target="gate", kind="incident", reason="break-in",
                                owner="security lead", now=NOW, actor="t", start=NOW - timedelta(days=5),
                                end=NOW - timedelta(days=3))
    purge(cat, POLICY, NOW, root)
    st = states(cat)
    assert st[c.id] == "raw" and Path(c.uri).exists()         # in the hold's range
    assert st[other.id] == "deleted"                          # outside it
    assert [x["id"] for x in holds_pipeline.list_holds(cat, NOW)] == [h["id"]]
    holds_pipeline.release(cat, h["id"], reason="closed", now=NOW + timedelta(hours=1), actor="t")
    purge(cat, POLICY, NOW + timedelta(hours=2), root)
    assert states(cat)[c.id] == "deleted"
    actions = [e.action for e in events(cat)]
    assert "hold.add" in actions and "hold.release" in actions
    assert cat.audit_verify().ok


def test_hold_validation(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "lab", NOW - timedelta(days=400))
    with pytest.raises(ConfigError, match="review date"):
        holds_pipeline.add_hold(cat, scope="clip", target=c.id[:6], kind="rnd", reason="model training",
                                owner="r&d", now=NOW, actor="t")
    with pytest.raises(ConfigError, match="reason"):
        holds_pipeline.add_hold(cat, scope="site", target="hq", kind="legal", reason=" ", owner="x", now=NOW,
                                actor="t")
    with pytest.raises(holds_pipeline.HoldError, match="no camera"):
        holds_pipeline.add_hold(cat, scope="camera", target="nope", kind="legal", reason="r", owner="o", now=NOW,
                                actor="t")
    h = holds_pipeline.add_hold(cat, scope="clip", target=c.id[:6], kind="rnd", reason="model training",
                                owner="r&d", now=NOW, actor="t", review=NOW + timedelta(days=30))
    assert h["target"] == c.id
    assert holds_pipeline.review_holds(cat, NOW) == []
    assert [x["id"] for x in holds_pipeline.review_holds(cat, NOW + timedelta(days=31))] == [h["id"]]
    report = purge(cat, POLICY, NOW + timedelta(days=31), root)
    assert states(cat)[c.id] == "raw" and report.warnings      # overdue for review: still kept, and said so


def test_missing_file_is_an_anomaly_not_a_crash(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4), write=False)
    report = purge(cat, POLICY, NOW, root)
    assert report.exit_code == 0 and len(report.anomalies) == 1
    assert states(cat)[c.id] == "deleted"
    assert json.loads(events(cat, "purge.delete")[0].details)["outcome"] == "missing"


def test_never_deletes_outside_the_root_even_through_a_symlink(arch, tmp_path):
    cat, root = arch
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    direct = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4), path=outside / "a.mp4")
    target = outside / "b.mp4"
    target.write_bytes(b"precious")
    link = root / "raw" / "gate" / "b.mp4"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    via_link = add_clip(cat, root, 2, "gate", NOW - timedelta(days=4), path=link, write=False)
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (outside / "c.mp4").write_bytes(b"precious too")
    via_dir = add_clip(cat, root, 3, "gate", NOW - timedelta(days=4), path=root / "linkdir" / "c.mp4", write=False)
    report = purge(cat, POLICY, NOW, root)
    assert report.exit_code == 3 and len(report.failures) == 3
    assert Path(direct.uri).exists() and target.exists() and (outside / "c.mp4").exists()
    assert set(states(cat).values()) == {"raw"}
    reasons = {d.clip_id: d.reason for d in report.plan.decisions}
    assert reasons == {direct.id: "outside_root", via_link.id: "outside_root", via_dir.id: "outside_root"}


def test_symlink_inside_the_root_deletes_the_file_and_the_link(arch):
    cat, root = arch
    real = root / "store" / "x.mp4"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"x")
    link = root / "raw" / "x.mp4"
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    add_clip(cat, root, 1, "gate", NOW - timedelta(days=4), path=link, write=False)
    purge(cat, POLICY, NOW, root)
    assert not real.exists() and not os.path.lexists(link)


def test_unlink_failure_exits_3_and_is_retried(arch, monkeypatch):
    cat, root = arch
    c = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4))
    real_unlink = os.unlink

    def refuse(path, *a, **kw):
        if str(path) == c.uri:
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", refuse)
    report = purge(cat, POLICY, NOW, root)
    assert report.exit_code == 3 and "cannot delete" in report.failures[0]
    assert states(cat)[c.id] == "deleting" and events(cat, "purge.failed") and Path(c.uri).exists()
    monkeypatch.setattr(os, "unlink", real_unlink)
    report = purge(cat, POLICY, NOW, root)
    assert report.exit_code == 0 and states(cat)[c.id] == "deleted" and not Path(c.uri).exists()


def test_restricted_clips_are_still_deleted(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4))
    with cat.transaction() as conn:
        conn.execute(clips.update().where(clips.c.id == c.id).values(restricted=True))
    purge(cat, POLICY, NOW, root)
    assert states(cat)[c.id] == "deleted"


def test_a_policy_change_recomputes_stored_deadlines(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "lab", NOW - timedelta(days=20))      # 6 months under the notice
    purge(cat, POLICY, NOW, root)
    assert states(cat)[c.id] == "raw"
    shorter = Policy.from_mapping({"camera": {"lab": "2 weeks"}})
    p = plan(cat, shorter, NOW, root)
    assert p.stale_deadlines and p.to_delete[0].clip_id == c.id
    purge(cat, shorter, NOW, root)
    assert states(cat)[c.id] == "deleted"
    with cat.engine.connect() as conn:
        assert get_state(conn, POLICY_FINGERPRINT) == shorter.fingerprint()
    assert events(cat, "retention.policy")


def test_an_interrupted_deletion_now_held_is_restored(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "gate", NOW - timedelta(days=4))
    with cat.transaction() as conn:
        conn.execute(clips.update().where(clips.c.id == c.id).values(state="deleting"))
    holds_pipeline.add_hold(cat, scope="clip", target=c.id, kind="incident", reason="r", owner="o", now=NOW,
                            actor="t")
    report = purge(cat, POLICY, NOW, root)
    assert [o.outcome for o in report.outcomes] == ["restored"]
    assert states(cat)[c.id] == "raw" and Path(c.uri).exists()


def test_second_purge_is_locked_out(arch):
    cat, root = arch
    add_clip(cat, root, 1, "gate", NOW - timedelta(days=4))
    with FileLock(root / LOCK_NAME, "purge"):
        with pytest.raises(LockedError) as exc:
            purge(cat, POLICY, NOW, root)
        assert exc.value.exit_code == 75
        purge(cat, POLICY, NOW, root, dry_run=True)      # a dry run needs no lock


def test_stats_have_no_personal_data(arch):
    cat, root = arch
    add_clip(cat, root, 1, "gate", datetime(2024, 5, 31, 22, 30, tzinfo=UTC))    # 1 June in Berlin
    raw = add_clip(cat, root, 2, "lab", datetime(2024, 5, 10, 8, 0, tzinfo=UTC))
    add_clip(cat, root, 3, "lab", datetime(2024, 5, 10, 8, 0, tzinfo=UTC), state="anonymised", derived_from=raw.id)
    add_clip(cat, root, 4, "street", datetime(2024, 3, 1, 8, 0, tzinfo=UTC))
    holds_pipeline.add_hold(cat, scope="site", target="hq", kind="legal", reason="r", owner="o", now=NOW, actor="t")
    purge(cat, POLICY, NOW, root)
    rows = stats(cat, NOW)
    keys = {(r["site"], r["month"], r["purpose"]) for r in rows}
    assert keys == {("hq", "2024-06", "security"), ("hq", "2024-05", "rnd"), ("road", "2024-03", "marketing")}
    by = {(r["site"], r["month"], r["purpose"]): r for r in rows}
    assert by[("hq", "2024-05", "rnd")]["anonymised_clips"] == 1 and by[("hq", "2024-05", "rnd")]["held_clips"] == 1
    assert by[("road", "2024-03", "marketing")]["deleted_clips"] == 1
    assert by[("road", "2024-03", "marketing")]["recorded_hours"] == pytest.approx(600 / 3600, abs=1e-3)
    text = json.dumps(rows)
    for c in ("raw", ".mp4", str(root)):
        assert c not in text


# ---------------------------------------------------------------------------------------------------- the CLI

def run(args, root):
    from anonymizer.cli.main import cli
    env = {"ANONYMIZER_CONFIG": str(root / "anonymizer.toml")}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_cli_purge_list_json_and_lock(arch):
    cat, root = arch
    old = datetime.now(UTC) - timedelta(days=10)
    c = add_clip(cat, root, 1, "gate", old)
    r = run(["purge", "--dry-run", "--list"], root)
    assert r.exit_code == 0 and "would delete" in r.output and c.id in r.output
    r = run(["purge", "--dry-run", "--json", "--now", "2000-01-01"], root)
    assert r.exit_code == 0 and json.loads(r.output)["outcomes"] == []
    assert run(["purge", "--now", "2000-01-01"], root).exit_code == 2
    with FileLock(root / LOCK_NAME, "purge"):
        r = run(["purge"], root)
        assert r.exit_code == 75
    r = run(["purge", "--json", "--list"], root)
    out = json.loads(r.output)
    assert r.exit_code == 0 and out["outcomes"][0]["outcome"] == "deleted" and out["decisions"]


def test_cli_holds_and_stats(arch, monkeypatch):
    cat, root = arch
    r = run(["holds", "add", "--scope", "camera", "--target", "lab", "--kind", "rnd", "--reason", "training set",
             "--owner", "ana"], root)
    assert r.exit_code == 2 and "review date" in r.output
    r = run(["holds", "add", "--scope", "camera", "--target", "lab", "--kind", "rnd", "--reason", "training set",
             "--owner", "ana", "--review", "2000-01-01", "--json"], root)
    assert r.exit_code == 2 and "is in the past" in r.output  # issue 30: a review date already past is refused
    r = run(["holds", "add", "--scope", "camera", "--target", "lab", "--kind", "rnd", "--reason", "training set",
             "--owner", "ana", "--review", "2099-01-01", "--json"], root)
    assert r.exit_code == 0
    hid = json.loads(r.output)[0]["id"]
    assert hid in run(["holds", "list"], root).output
    assert hid not in run(["holds", "review"], root).output
    monkeypatch.setattr("anonymizer.cli.holds._now", lambda: datetime(2099, 1, 2, tzinfo=UTC))  # its review passed
    assert hid in run(["holds", "review"], root).output
    assert run(["holds", "release", hid, "--reason", "done"], root).exit_code == 0
    assert "no holds" in run(["holds", "list"], root).output
    assert hid in run(["holds", "list", "--all"], root).output
    assert run(["stats", "--json"], root).exit_code == 0


def test_cli_clips_show_explains_the_rule(arch):
    cat, root = arch
    c = add_clip(cat, root, 1, "street", datetime.now(UTC) - timedelta(days=3))
    r = run(["clips", "show", c.id], root)
    assert r.exit_code == 0, r.output
    assert "external site" in r.output and "2 calendar months" in r.output and "kept until" in r.output
    (root / "anonymizer.toml").write_text((root / "anonymizer.toml").read_text()
                                          + '\n[policy.camera]\nstreet = "1 day"\n')
    r = run(["clips", "show", c.id, "--json"], root)
    d = json.loads(r.output)
    assert d["retention_rule"].startswith("camera street override") and d["retention_now"].startswith("delete")


def test_the_imported_sidecar_goes_with_its_clip(arch):
    cat, root = arch
    due = add_clip(cat, root, 11, "gate", NOW - timedelta(days=4))
    kept = add_clip(cat, root, 12, "gate", NOW - timedelta(days=1))
    for c in (due, kept):
        Path(c.uri + ".json").write_text('{"start": "2024-05-28T10:00:00Z", "camera": "gate"}')
    purge(cat, POLICY, NOW, root)
    assert not Path(due.uri).exists() and not Path(due.uri + ".json").exists()
    assert Path(kept.uri).exists() and Path(kept.uri + ".json").exists()


STATES_DRAWN = ["raw", "raw", "amended", "anonymised", "deleted", "deleting", "quarantined", "zz", "Raw", ""]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(STATES_DRAWN), st.none() | st.integers(-100, 100), st.booleans()),
                max_size=30),
       st.integers(-50, 50))
def test_the_sql_prefilter_agrees_with_the_pure_rule(tmp_path_factory, request, kind, rows, now_offset):
    """The plan reads only the clips the pure ``certainly_kept`` does not leave out (any state, any deadline, a
    deadline equal to now), counts the others by reason, and decides for the rest as ``decide`` over them all."""
    from anonymizer.domain.retention import certainly_kept
    from anonymizer.store.holds import set_state

    if not hasattr(request.node, "_prefilter_cat"):
        root = tmp_path_factory.mktemp("pf")
        url = None if kind == "sqlite" else request.getfixturevalue("pg_cluster").new_database("pf")
        request.node._prefilter_cat = (open_archive(root, url), root)
    cat, root = request.node._prefilter_cat
    base = datetime(2024, 6, 1, tzinfo=UTC)
    now = base + timedelta(days=now_offset)
    with cat.transaction() as conn:
        conn.execute(clips.delete())
        set_state(conn, POLICY_FINGERPRINT, POLICY.fingerprint())
    expected, left_out = set(), {"keep:not_due": 0, "keep:anonymised": 0}
    for i, (state, days, restricted) in enumerate(rows):
        deadline = None if days is None else base + timedelta(days=days)
        c = add_clip(cat, root, i, "lab", base - timedelta(days=30), state=state, write=False)
        with cat.transaction() as conn:
            conn.execute(update(clips).where(clips.c.id == c.id).values(purge_after=deadline, restricted=restricted))
        if not certainly_kept(state, deadline, now):
            expected.add(c.id)
        elif state == "anonymised":
            left_out["keep:anonymised"] += 1
        elif state != "deleted":
            left_out["keep:not_due"] += 1
    p = plan(cat, POLICY, now, root)
    assert {d.clip_id for d in p.decisions} == expected
    assert p.left_out == left_out
    full = {d.clip_id: d for d in plan(cat, POLICY, now, root, every_clip=True).decisions}
    for d in p.decisions:
        assert full[d.clip_id] == d
    assert {i for i, d in full.items() if d.delete} <= expected  # nothing due is left out
