"""Ingest through the CLI against a real SQLite catalogue, with a batch made in the test."""

import json
import os
import shutil
import stat
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from anonymizer.cli.main import cli
from anonymizer.imaging.scene import scene_frames
from anonymizer.media.synth import write_video

UTC = timezone.utc

CONFIG = """
archive = "."
[sites.hq]
name = "Headquarters"
kind = "premises"
timezone = "Europe/Berlin"
location = { lat = 52.52, lon = 13.405, radius_m = 150 }
[sites.street]
name = "Main street"
kind = "external"
timezone = "America/New_York"
[cameras.lab1]
site = "hq"
purpose = "rnd"
clock = "local"
filename_pattern = "%Y%m%d_%H%M%S"
[cameras.gate]
site = "street"
purpose = "security"
clock = "utc"
clock_offset_s = 60
[cameras.door]
site = "hq"
purpose = "marketing"
"""


def tiny_clip(path: Path, seed: int, n: int = 3, size=(160, 120), metadata=None) -> Path:
    frames = []
    for frame, _truth in scene_frames(size[0], size[1], n):
        f = frame.astype(np.int16)
        f[:8, :8] = (seed * 37) % 256  # a distinct corner per clip: distinct content, distinct sha256
        frames.append(f.clip(0, 255).astype(np.uint8))
    return write_video(path, frames, rate=Fraction(25), metadata=metadata)


def invoke(*args: str, env=None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    arch = tmp_path / "archive"
    r = invoke("init", str(arch))
    assert r.exit_code == 0, r.output
    (arch / "anonymizer.toml").write_text(CONFIG)
    return arch


def make_batch(root: Path) -> dict[str, Path]:
    b = root / "batch"
    clips = {
        "filename": tiny_clip(b / "lab1" / "20240601_103000.mp4", 1),
        "container": tiny_clip(b / "gate" / "clip_a.mp4", 2, metadata={"creation_time": "2024-06-01T12:00:00.000000Z"}),
        "sidecar": tiny_clip(b / "door" / "side.mp4", 3, metadata={"creation_time": "2020-01-01T00:00:00Z"}),
        "mtime": tiny_clip(b / "door" / "notime.mp4", 4),
        "future": tiny_clip(b / "door" / "future.mp4", 5),
        "badside": tiny_clip(b / "door" / "bad.mp4", 6),
        "nocam": tiny_clip(b / "elsewhere" / "x.mp4", 7),
    }
    (b / "door" / "side.mp4.json").write_text('{"start": "2024-05-01T09:00:00+02:00"}')
    (b / "door" / "future.json").write_text('{"start": "2099-01-01T00:00:00Z"}')
    (b / "door" / "bad.mp4.json").write_text("start: yesterday")
    os.utime(clips["mtime"], (0, datetime(2024, 6, 2, 10, 0, tzinfo=UTC).timestamp()))
    shutil.copy(clips["sidecar"], b / "door" / "zcopy.mp4")
    (b / "door" / "corrupt.mp4").write_bytes(os.urandom(2000))
    (b / "door" / "notes.txt").write_text("who filmed this")
    return clips


def rows(archive: Path, table: str = "clips"):
    from anonymizer.store.catalogue import Catalogue

    with Catalogue.open(f"sqlite:///{archive / 'catalogue.sqlite'}") as cat:
        return cat.find() if table == "clips" else cat.audit_events()


def test_init_denies_other_users(tmp_path: Path):
    arch = tmp_path / "a"
    assert invoke("init", str(arch)).exit_code == 0
    assert stat.S_IMODE(arch.stat().st_mode) == 0o700
    assert stat.S_IMODE((arch / "anonymizer.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE((arch / "catalogue.sqlite").stat().st_mode) == 0o600
    r = invoke("config", "check", "-c", str(arch / "anonymizer.toml"))
    assert r.exit_code == 0 and "1 sites, 1 cameras" in r.output
    assert invoke("init", str(arch)).exit_code == 0  # a second init keeps the file


def test_config_check_names_the_bad_key(tmp_path: Path):
    (tmp_path / "c.toml").write_text('[cameras.x]\nsite = "nowhere"\npurpose = "rnd"\n')
    r = invoke("config", "check", "-c", str(tmp_path / "c.toml"))
    assert r.exit_code == 2 and "cameras.x.site: unknown site 'nowhere'" in r.output


def test_ingest_batch(archive: Path, tmp_path: Path):
    clips = make_batch(tmp_path)
    cfg = str(archive / "anonymizer.toml")
    r = invoke("ingest", str(tmp_path / "batch"), "-c", cfg)
    assert r.exit_code == 3, r.output
    errors = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    expected = {
        "bad.mp4": "unparseable sidecar bad.mp4.json",
        "corrupt.mp4": "not a readable video",
        "future.mp4": "is in the future",
        "notes.txt": "not a video file",
        "x.mp4": "no camera for this clip",
        "zcopy.mp4": "duplicate of clip",
    }
    assert len(errors) == len(expected), errors
    for name, cause in expected.items():
        line = next(l for l in errors if f"/{name}:" in l)
        assert cause in line and "fix:" in line, line
    side_id = next(c for c in rows(archive) if c.uri.endswith("side.mp4")).id
    assert side_id in next(l for l in errors if "zcopy" in l)

    got = {Path(c.uri).name: c for c in rows(archive)}
    assert set(got) == {"20240601_103000.mp4", "clip_a.mp4", "side.mp4", "notime.mp4"}
    lab = got["20240601_103000.mp4"]
    assert (lab.time_source, lab.start, lab.camera_id, lab.site_id, lab.purpose) == (
        "filename", datetime(2024, 6, 1, 8, 30, tzinfo=UTC), "lab1", "hq", "rnd")
    assert lab.purge_after == datetime(2024, 12, 1, 9, 30, tzinfo=UTC)  # 6 months, Berlin winter time
    gate = got["clip_a.mp4"]
    assert (gate.time_source, gate.start) == ("container", datetime(2024, 6, 1, 11, 59, tzinfo=UTC))
    assert gate.purge_after == datetime(2024, 6, 4, 11, 59, tzinfo=UTC)  # security: 3 days
    side = got["side.mp4"]
    assert (side.time_source, side.start) == ("sidecar", datetime(2024, 5, 1, 7, 0, tzinfo=UTC))
    assert side.purge_after == datetime(2024, 11, 1, 8, 0, tzinfo=UTC)
    nt = got["notime.mp4"]
    assert nt.time_source == "mtime" and nt.time_uncertain
    assert nt.start == datetime(2024, 6, 2, 10, 0, tzinfo=UTC) - (nt.end - nt.start)
    for c in got.values():
        assert c.state == "raw" and c.width == 160 and c.height == 120 and c.frames == 3 and c.codec == "h264"
        assert c.rate == "25" and not c.has_audio and c.start.tzinfo == UTC
        assert c.id == c.sha256[:16] and c.size == Path(c.uri).stat().st_size
    events = rows(archive, "audit")
    assert [e.action for e in events] == ["ingest"] * 4

    # a rerun registers nothing new and says the same about the bad files
    again = invoke("ingest", str(tmp_path / "batch"), "-c", cfg, "--json")
    assert again.exit_code == 3
    summary = json.loads(again.stdout)
    assert (summary["registered"], summary["known"], summary["failed"]) == (0, 4, 6)
    assert len(rows(archive)) == 4 and len(rows(archive, "audit")) == 4


def test_ingest_with_camera_option_and_unknown_camera(archive: Path, tmp_path: Path):
    tiny_clip(tmp_path / "b" / "one.mp4", 11, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    cfg = str(archive / "anonymizer.toml")
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--camera", "nope")
    assert r.exit_code == 2 and "--camera nope: unknown camera" in r.output
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--camera", "door")
    assert r.exit_code == 0, r.output
    (c,) = rows(archive)
    assert c.camera_id == "door" and c.start == datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_sidecar_naming_an_unknown_camera(archive: Path, tmp_path: Path):
    tiny_clip(tmp_path / "b" / "one.mp4", 12)
    (tmp_path / "b" / "one.json").write_text('{"camera": "roof"}')
    r = invoke("ingest", str(tmp_path / "b"), "-c", str(archive / "anonymizer.toml"))
    assert r.exit_code == 1
    assert "unknown camera 'roof' (from its sidecar); fix: add [cameras.roof]" in r.stderr


def test_clips_list_and_show(archive: Path, tmp_path: Path):
    make_batch(tmp_path)
    cfg = str(archive / "anonymizer.toml")
    invoke("ingest", str(tmp_path / "batch"), "-c", cfg)
    r = invoke("clips", "list", "-c", cfg)
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 4
    listed = json.loads(invoke("clips", "list", "-c", cfg, "--json").stdout)
    assert [c["start"] for c in listed] == sorted(c["start"] for c in listed)
    by = lambda *a: [Path(c["uri"]).name for c in json.loads(invoke("clips", "list", "-c", cfg, "--json", *a).stdout)]
    assert by("--camera", "gate") == ["clip_a.mp4"]
    assert by("--site", "street") == ["clip_a.mp4"]
    assert by("--purpose", "marketing") == ["side.mp4", "notime.mp4"]
    assert by("--state", "anonymised") == []
    assert by("--since", "2024-06-01T09:00:00Z", "--until", "2024-06-02") == ["clip_a.mp4"]
    assert by("--since", "2024-06-01T10:00+02:00", "--until", "2024-06-01T10:31+02:00") == ["20240601_103000.mp4"]
    assert by("--expiring-before", "2024-06-05") == ["clip_a.mp4"]
    assert invoke("clips", "list", "-c", cfg, "--since", "soon").exit_code == 2

    gate = next(c for c in listed if c["camera"] == "gate")
    r = invoke("clips", "show", gate["id"][:8], "-c", cfg)
    assert r.exit_code == 0 and gate["uri"] in r.stdout and "container" in r.stdout
    shown = json.loads(invoke("clips", "show", gate["id"], "-c", cfg, "--json").stdout)
    assert shown["sha256"] == gate["sha256"] and shown["anonymised_copies"] == []
    r = invoke("clips", "show", "abcdef12", "-c", cfg)
    assert r.exit_code == 1 and "no clip 'abcdef12'" in r.stderr


def test_audit_verify_and_export_through_the_cli(archive: Path, tmp_path: Path):
    make_batch(tmp_path)
    cfg = str(archive / "anonymizer.toml")
    invoke("ingest", str(tmp_path / "batch"), "-c", cfg)
    r = invoke("audit", "verify", "-c", cfg)
    assert r.exit_code == 0 and "intact: 4 events" in r.stdout
    exported = json.loads(invoke("audit", "export", "--json", "-c", cfg).stdout)
    assert [e["seq"] for e in exported] == [1, 2, 3, 4] and exported[0]["prev_hash"] == "0" * 64
    assert exported[1]["prev_hash"] == exported[0]["hash"] and exported[0]["details"]["sha256"]

    from anonymizer.store.catalogue import Catalogue

    with Catalogue.open(f"sqlite:///{archive / 'catalogue.sqlite'}") as cat, cat.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET object = 'clip 0000000000000000' WHERE seq = 2"))
    r = invoke("audit", "verify", "-c", cfg)
    assert r.exit_code == 1
    assert "event 2" in r.stderr and "changed" in r.stderr
    out = json.loads(invoke("audit", "verify", "--json", "-c", cfg).stdout)
    assert not out["ok"] and len(out["problems"]) == 1


def test_catalogue_commands_are_documented():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for command in ("init", "config check", "ingest", "run", "clips list", "clips show", "audit verify",
                    "audit export"):
        assert f"`anonymizer {command}" in readme, command
        assert invoke(*command.split(), "--help").exit_code == 0
