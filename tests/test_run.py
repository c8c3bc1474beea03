"""``anonymizer run``: ingest + anonymise with the real models, rerun, and a run killed by SIGKILL then resumed."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_ingest import CONFIG, catalogue_url, invoke, rows, tiny_clip

pytestmark = pytest.mark.slow


def archive_config(arch: Path, backend=None, top: str = "") -> str:
    """The test configuration of the archive ``arch``, naming ``backend``'s catalogue (None: SQLite in the
    archive), with ``top`` (top-level keys) before the first table; append tables after it."""
    return (backend.config_line(arch) if backend is not None else "") + top + CONFIG.lstrip()


def setup_archive(root: Path, name: str = "archive", backend=None) -> str:
    """An initialised archive ROOT/NAME whose catalogue is ``backend``'s (conftest.py: SQLite or PostgreSQL;
    None: SQLite); the path of its configuration."""
    arch = root / name
    arch.mkdir(parents=True, exist_ok=True)
    (arch / "anonymizer.toml").write_text(archive_config(arch, backend))
    assert invoke("init", str(arch)).exit_code == 0
    return str(arch / "anonymizer.toml")


def catalogue_view(archive: Path, batch: Path) -> dict:
    """What must be the same after an interrupted-and-resumed run and an uninterrupted one."""
    clips = rows(archive)
    raw = sorted((c.id, Path(c.imported_from).relative_to(batch).as_posix(), Path(c.uri).relative_to(archive).as_posix(),
                  c.camera_id, c.start, c.time_source, c.purge_after, c.frames) for c in clips if c.state == "raw")
    copies = sorted((c.derived_from, Path(c.uri).relative_to(archive).as_posix(), c.frames, c.purge_after,
                     Path(c.report_uri).exists()) for c in clips if c.state == "anonymised")
    actions = sorted(e.action for e in rows(archive, "audit"))
    return {"raw": raw, "copies": copies, "actions": actions}


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if ".partial" in p.name] if folder.exists() else []


def test_run_anonymises_records_and_reruns_to_nothing(tmp_path: Path, backend, models_ready):
    cfg = setup_archive(tmp_path, backend=backend)
    archive = tmp_path / "archive"
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 21, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(batch / "lab1" / "sub" / "20240601_103000.mov", 22, n=4, size=(320, 240))
    (batch / "door" / "broken.mp4").write_bytes(b"\x00" * 100)

    # every frame a keyframe: these tiny clips move their face and plate too fast for carried boxes
    fast = ("--face-stride", "1", "--plate-stride", "1")
    r = invoke("run", str(batch), "-c", cfg, "-j", "1", "--json", *fast)
    assert r.exit_code == 3, r.output  # the broken file
    assert "broken.mp4" in r.stderr and "fix:" in r.stderr
    out = json.loads(r.stdout)
    assert [a["ok"] for a in out["anonymised"]] == [True, True], out

    clips = rows(archive)
    raws = {c.id: c for c in clips if c.state == "raw"}
    copies = [c for c in clips if c.state == "anonymised"]
    assert len(raws) == 2 and len(copies) == 2
    for copy in copies:
        raw = raws[copy.derived_from]
        rel = Path(raw.imported_from).relative_to(batch)  # the batch lies outside the archive: imported
        assert Path(raw.uri).parent == (archive / "raw" / raw.site_id / raw.camera_id / "2024" / "06").resolve()
        assert Path(raw.uri).read_bytes() == (batch / rel).read_bytes()
        assert Path(copy.uri) == (archive / "anonymised" / "batch" / rel).resolve()
        assert copy.purge_after is None and raw.purge_after is not None
        assert (copy.start, copy.camera_id, copy.site_id, copy.frames) == (raw.start, raw.camera_id, raw.site_id, 4)
        from anonymizer.pipelines.ingest import sha256_of

        assert sha256_of(Path(copy.uri))[0] == copy.sha256 and copy.id == copy.sha256[:16]
        report = json.loads(Path(copy.report_uri).read_text())
        assert report["frames"] == 4 and report["residual"]["passed"]
        assert stat.S_IMODE(Path(copy.uri).stat().st_mode) & 0o007 == 0
        assert stat.S_IMODE(Path(copy.report_uri).stat().st_mode) & 0o007 == 0
        for d in Path(copy.uri).parents:
            if d == archive:
                break
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert sorted(e.action for e in rows(archive, "audit")) == ["anonymise"] * 2 + ["ingest"] * 2

    shown = json.loads(invoke("clips", "show", next(iter(raws)), "-c", cfg, "--json").stdout)
    assert len(shown["anonymised_copies"]) == 1
    listed = json.loads(invoke("clips", "list", "-c", cfg, "--json", "--state", "anonymised").stdout)
    assert {c["derived_from"] for c in listed} == set(raws)

    before = catalogue_view(archive, batch)
    again = invoke("run", str(batch), "-c", cfg, "-j", "1", "--json", *fast)
    assert again.exit_code == 3
    summary = json.loads(again.stdout)
    assert summary["anonymised"] == [] and summary["already_anonymised"] == 2
    assert "2 originals" in summary["warning"] and again.stderr.count("warning: ") == 1
    assert catalogue_view(archive, batch) == before

    # --move: the originals go once verified against their archive copies; the clips are still the batch's
    moved = invoke("run", str(batch), "-c", cfg, "-j", "1", "--json", "--move", *fast)
    assert moved.exit_code == 3 and "warning: " not in moved.stderr
    assert not (batch / "door" / "a.mp4").exists() and not (batch / "lab1" / "sub" / "20240601_103000.mov").exists()
    assert json.loads(moved.stdout)["already_anonymised"] == 2
    assert catalogue_view(archive, batch)["raw"] == before["raw"]
    assert sorted(e.action for e in rows(archive, "audit")).count("ingest.remove_original") == 2


def test_run_killed_then_rerun_equals_an_uninterrupted_run(tmp_path: Path, backend, models_ready):
    batch = tmp_path / "batch"
    for i in range(5):
        tiny_clip(batch / "door" / f"c{i}.mp4", 30 + i, n=24, size=(320, 240),
                  metadata={"creation_time": f"2024-06-0{i + 1}T12:00:00Z"})
    killed_cfg = setup_archive(tmp_path, "killed", backend)
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "anonymizer.cli.main", "run", str(batch), "-c", killed_cfg, "-j", "1",
           "--residual-samples", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    out_dir = killed / "anonymised"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            finished = [p for p in out_dir.rglob("*.mp4") if not p.name.startswith(".")] if out_dir.exists() else []
            # one clip done, the next half written (a video's partial: a report's is its own clip's, written last)
            if finished and [p for p in partials(out_dir) if p.suffix == ".mp4"]:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert partials(out_dir), "killed while writing an output"
    registered = [c for c in rows(killed) if c.state == "anonymised"]
    assert 0 < len(registered) < 5
    for c in rows(killed):  # nothing half-registered: every record's file is complete
        assert Path(c.uri).stat().st_size == c.size

    r = invoke("run", str(batch), "-c", killed_cfg, "-j", "1", "--residual-samples", "0")
    assert r.exit_code == 0, r.output
    assert partials(out_dir) == []
    assert sorted(p.name for p in out_dir.rglob("*") if p.is_file()) == sorted(
        [f"c{i}.mp4" for i in range(5)] + [f"c{i}.mp4.report.json" for i in range(5)])

    clean_cfg = setup_archive(tmp_path, "clean", backend)
    r = invoke("run", str(batch), "-c", clean_cfg, "-j", "1", "--residual-samples", "0")
    assert r.exit_code == 0, r.output
    assert catalogue_view(killed, batch) == catalogue_view(tmp_path / "clean", batch)
    assert invoke("audit", "verify", "-c", killed_cfg).exit_code == 0


def test_run_leaves_restricted_clips_alone(tmp_path: Path, backend, models_ready):
    """A restriction request flags clips: no command processes them until it is lifted (retention still runs)."""
    from sqlalchemy import update

    from anonymizer.store.catalogue import Catalogue
    from anonymizer.store.schema import clips as clips_table

    cfg = setup_archive(tmp_path, backend=backend)
    archive = tmp_path / "archive"
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 31, n=3, size=(160, 120), metadata={"creation_time": "2024-06-01T12:00:00Z"})
    assert invoke("ingest", str(batch), "-c", cfg).exit_code == 0
    (raw,) = rows(archive)
    with Catalogue.open(catalogue_url(archive)) as cat, cat.transaction() as conn:
        conn.execute(update(clips_table).where(clips_table.c.id == raw.id).values(restricted=True))
    r = invoke("run", str(batch), "-c", cfg, "-j", "1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["restricted"] == [raw.id]
    assert [c.state for c in rows(archive)] == ["raw"]
    assert not (archive / "anonymised").exists() or not any((archive / "anonymised").rglob("*.mp4"))
