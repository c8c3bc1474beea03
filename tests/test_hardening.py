"""Bad input and bad configuration (issue 9): each gets one line naming the file, the cause and the fix, and the
rest of the batch goes on; the catalogue itself may be garbage; and warnings come before footage is lost."""

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from anonymizer.config import load_config
from anonymizer.pipelines.purge import purge
from anonymizer.store.catalogue import Catalogue
from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_run import archive_config, setup_archive

UTC = timezone.utc


def test_a_garbage_catalogue_is_one_line_not_a_traceback(tmp_path: Path):
    """SQLite only: a catalogue file in the archive overwritten with garbage (a PostgreSQL catalogue is no file)."""
    cfg = setup_archive(tmp_path)
    (tmp_path / "archive" / "catalogue.sqlite").write_bytes(b"this is not a database\n" * 200)
    for args in (["clips", "list"], ["audit", "verify"], ["purge", "--dry-run"]):
        r = invoke(*args, "-c", cfg)
        assert r.exit_code != 0, args
        assert "Traceback" not in r.output
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "catalogue" in lines[0] and "fix:" in lines[0], r.stderr


def test_config_check_reports_every_problem_at_once(tmp_path: Path):
    (tmp_path / "c.toml").write_text(
        'archive = "/"\ncatalogue = "mysql://u@h/db"\n'
        '[sites."../../x"]\nname = "x"\nkind = "premises"\ntimezone = "UTC"\n'
        '[cameras.gate]\nsite = "nowhere"\npurpose = "rnd"\n')
    r = invoke("config", "check", "-c", str(tmp_path / "c.toml"))
    assert r.exit_code == 2
    assert "archive: / is a shared system folder" in r.output
    assert "catalogue: mysql:// is not supported" in r.output
    assert "sites.../../x: an id must be a simple name" in r.output
    assert "cameras.gate.site: unknown site 'nowhere'" in r.output
    (tmp_path / "d.toml").write_text('archive = "/etc/footage"\n')
    r = invoke("config", "check", "-c", str(tmp_path / "d.toml"))
    assert r.exit_code == 2 and "is in a system folder" in r.output


def test_symlinks_out_of_the_batch_are_refused_and_the_batch_goes_on(tmp_path: Path, backend):
    cfg = setup_archive(tmp_path, backend=backend)
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "good.mp4", 61, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    secret = tmp_path / "elsewhere" / "private.mp4"
    tiny_clip(secret, 62, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    os.symlink(secret, batch / "door" / "link.mp4")
    os.symlink(tmp_path / "nothing.mp4", batch / "door" / "dangling.mp4")
    r = invoke("ingest", str(batch), "-c", cfg)
    assert r.exit_code == 3, r.output
    assert "Traceback" not in r.output
    assert "link.mp4: a symlink leading outside the batch" in r.stderr and "fix:" in r.stderr
    assert "dangling.mp4: a broken symlink" in r.stderr
    assert [Path(c.imported_from).name for c in rows(tmp_path / "archive")] == ["good.mp4"]


def test_mtime_only_time_refused_for_security_cameras_and_warned_loudly_for_others(tmp_path: Path, backend,
                                                                                   caplog):
    cfg = setup_archive(tmp_path, backend=backend)
    batch = tmp_path / "batch"
    tiny_clip(batch / "gate" / "clip.mp4", 63)  # security camera, no sidecar, pattern or container time
    tiny_clip(batch / "door" / "clip.mp4", 64)  # marketing camera
    r = invoke("ingest", str(batch), "-c", cfg)
    assert r.exit_code == 3, r.output
    assert "gate/clip.mp4: the only recording time is the file's modification time (security footage" in r.stderr
    assert "NO RECORDING TIME" in r.output
    (clip,) = rows(tmp_path / "archive")
    assert clip.camera_id == "door" and clip.time_source == "mtime" and clip.time_uncertain

    arch = tmp_path / "archive"
    (arch / "anonymizer.toml").write_text(archive_config(arch, backend, top='mtime_time = "refuse"\n'))
    tiny_clip(batch / "door" / "other.mp4", 65)
    r = invoke("ingest", str(batch), "-c", cfg)
    assert "door/other.mp4: the only recording time is the file's modification time (mtime_time" in r.stderr
    assert len(rows(arch)) == 1


@pytest.mark.slow
def test_x_avi_and_x_mp4_get_two_outputs(tmp_path: Path, backend, models_ready):
    cfg = setup_archive(tmp_path, backend=backend)
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "x.avi", 66, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(batch / "door" / "x.mp4", 67, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:01:00Z"})
    r = invoke("run", str(batch), "-c", cfg, "-j", "1", "--json", "--face-stride", "1", "--plate-stride", "1")
    assert r.exit_code == 0, r.output
    copies = [c for c in rows(tmp_path / "archive") if c.state == "anonymised"]
    names = sorted(Path(c.uri).name for c in copies)
    assert names == ["x.avi.mp4", "x.mp4"]
    assert len({c.uri for c in copies}) == 2 and all(Path(c.uri).exists() for c in copies)


def test_purge_and_stats_warn_before_an_original_without_a_copy_is_lost(tmp_path: Path, backend):
    cfg_path = setup_archive(tmp_path, backend=backend)
    Path(cfg_path).write_text(archive_config(tmp_path / "archive", backend) + '[policy.camera]\ndoor = "30 days"\n')
    batch = tmp_path / "batch"
    now = datetime.now(UTC)
    start = now - timedelta(days=25)  # due in 5 days
    tiny_clip(batch / "door" / "soon.mp4", 68)
    (batch / "door" / "soon.json").write_text(json.dumps({"start": start.isoformat()}))
    tiny_clip(batch / "door" / "later.mp4", 69)
    (batch / "door" / "later.json").write_text(json.dumps({"start": (now - timedelta(days=1)).isoformat()}))
    assert invoke("ingest", str(batch), "-c", cfg_path).exit_code == 0
    soon = next(c for c in rows(tmp_path / "archive") if c.imported_from.endswith("soon.mp4"))
    assert now < soon.purge_after < now + timedelta(days=14)

    r = invoke("purge", "--dry-run", "-c", cfg_path)
    assert r.exit_code == 0, r.output
    (line,) = [line for line in r.stdout.splitlines() if line.startswith("at risk:")]
    assert soon.id in line and "no anonymised copy" in line
    r = invoke("-q", "purge", "-c", cfg_path)  # the nightly purge's output
    assert r.exit_code == 0 and soon.id in r.stdout
    r = invoke("stats", "-c", cfg_path)
    assert "1 original clip(s) of camera door are due within 14 days" in r.stderr
    assert soon.id not in r.output  # stats never names a clip

    # a hold, or a wider window, changes the list
    cfg = load_config(Path(cfg_path))
    with Catalogue.open(cfg.catalogue_url) as cat:
        assert len(purge(cat, cfg.policy, now, cfg.archive, dry_run=True, warn_days=90).at_risk) == 2
    assert invoke("holds", "add", "-c", cfg_path, "--scope", "clip", "--target", soon.id, "--kind", "incident",
                  "--reason", "r", "--owner", "o").exit_code == 0
    r = invoke("purge", "--dry-run", "-c", cfg_path)
    assert "at risk" not in r.stdout
