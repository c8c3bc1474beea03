"""``audit verify`` checks the catalogue against the chain (issue 9): a direct edit of a clip's deadline or state,
a hold changed by hand, or an emptied audit table is caught, while every change made by the tool verifies."""

import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

from anonymizer.config import load_config
from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_run import archive_config, setup_archive

UTC = timezone.utc


def verify(cfg):
    r = invoke("audit", "verify", "--json", "-c", cfg)
    return r.exit_code, json.loads(r.stdout)["problems"]


def edit(cfg, sql, **params):
    from anonymizer.store.catalogue import Catalogue

    with Catalogue.open(load_config(Path(cfg)).catalogue_url) as cat, cat.transaction() as conn:
        conn.execute(text(sql), params)


def archive_with_clips(tmp_path, backend):
    cfg = setup_archive(tmp_path, backend=backend)
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 71, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(batch / "lab1" / "20240601_103000.mp4", 72)
    assert invoke("ingest", str(batch), "-c", cfg).exit_code == 0
    a = next(c for c in rows(tmp_path / "archive") if c.camera_id == "door")
    return cfg, a


def test_tool_changes_verify_and_a_direct_deadline_edit_does_not(tmp_path: Path, backend):
    cfg, a = archive_with_clips(tmp_path, backend)
    assert invoke("holds", "add", "-c", cfg, "--scope", "camera", "--target", "lab1", "--kind", "incident",
                  "--reason", "r", "--owner", "o").exit_code == 0
    # a policy change recomputes deadlines: recorded in the log, so it verifies
    Path(cfg).write_text(archive_config(Path(cfg).parent, backend) + '[policy.camera]\ndoor = "1 year"\n')
    assert invoke("purge", "-c", cfg).exit_code == 0
    assert verify(cfg) == (0, [])

    held = next(c for c in rows(tmp_path / "archive") if c.camera_id == "lab1")  # kept by the hold
    assert held.state == "raw" and next(c for c in rows(tmp_path / "archive") if c.id == a.id).state == "deleted"
    edit(cfg, "UPDATE clips SET purge_after = :t WHERE id = :id", t=datetime(2099, 1, 1), id=held.id)
    code, problems = verify(cfg)
    assert code == 1 and len(problems) == 1
    assert held.id in problems[0] and "deadline was changed by hand" in problems[0]


def test_a_state_or_hold_edited_by_hand_is_caught(tmp_path: Path, backend):
    cfg, a = archive_with_clips(tmp_path, backend)
    r = invoke("holds", "add", "-c", cfg, "--scope", "clip", "--target", a.id, "--kind", "legal", "--reason", "r",
               "--owner", "o", "--json")
    (hold,) = [h["id"] for h in json.loads(r.stdout)]
    edit(cfg, "UPDATE clips SET state = 'deleted' WHERE id = :id", id=a.id)
    edit(cfg, "UPDATE holds SET released_at = :t WHERE id = :id", t=datetime(2024, 1, 1), id=hold)
    code, problems = verify(cfg)
    assert code == 1
    assert any(a.id in p and "deleted in the catalogue but raw in the audit log" in p for p in problems)
    assert any(hold in p and "released_at" in p for p in problems)


def test_an_emptied_audit_table_is_caught(tmp_path: Path, backend):
    cfg, a = archive_with_clips(tmp_path, backend)
    edit(cfg, "DELETE FROM audit_events")
    code, problems = verify(cfg)
    assert code == 1 and len(problems) == 2
    assert all("has no event in the audit log" in p for p in problems)
