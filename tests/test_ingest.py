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
def archive(tmp_path: Path, backend) -> Path:
    """An archive whose catalogue is ARCHIVE/catalogue.sqlite or a PostgreSQL database (``backend``)."""
    arch = tmp_path / "archive"
    (arch).mkdir()
    (arch / "anonymizer.toml").write_text(backend.config_line(arch) + CONFIG.lstrip())
    r = invoke("init", str(arch))
    assert r.exit_code == 0, r.output
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


def catalogue_url(archive: Path) -> str:
    from anonymizer.config import load_config

    return load_config(archive / "anonymizer.toml").catalogue_url


def rows(archive: Path, table: str = "clips"):
    from anonymizer.store.catalogue import Catalogue

    with Catalogue.open(catalogue_url(archive)) as cat:
        return cat.find() if table == "clips" else cat.audit_events()


def test_init_denies_other_users(tmp_path: Path):
    """SQLite: the catalogue file is private (a PostgreSQL catalogue is guarded by the server's roles)."""
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
    # the batch lies outside the archive root: every clip imported into ARCHIVE/raw/<site>/<camera>/<YYYY>/<MM>/
    # (the month of its start in the site's calendar), the original kept where it was
    raw = archive.resolve() / "raw"
    assert {n: Path(c.uri) for n, c in got.items()} == {
        "20240601_103000.mp4": raw / "hq" / "lab1" / "2024" / "06" / "20240601_103000.mp4",
        "clip_a.mp4": raw / "street" / "gate" / "2024" / "06" / "clip_a.mp4",
        "side.mp4": raw / "hq" / "door" / "2024" / "05" / "side.mp4",
        "notime.mp4": raw / "hq" / "door" / "2024" / "06" / "notime.mp4",
    }
    originals = {"20240601_103000.mp4": clips["filename"], "clip_a.mp4": clips["container"],
                 "side.mp4": clips["sidecar"], "notime.mp4": clips["mtime"]}
    for n, c in got.items():
        assert c.imported_from == str(originals[n].resolve()) and originals[n].exists()
        assert Path(c.uri).read_bytes() == originals[n].read_bytes()
    assert (raw / "hq" / "door" / "2024" / "05" / "side.mp4.json").read_text() == \
        (tmp_path / "batch" / "door" / "side.mp4.json").read_text()
    warnings = [l for l in r.stderr.splitlines() if l.startswith("warning: ")]
    assert len(warnings) == 1 and "4 originals" in warnings[0] and "not covered by the retention policy" in \
        warnings[0] and "--move" in warnings[0]
    events = rows(archive, "audit")
    assert [e.action for e in events] == ["ingest"] * 4
    assert sorted(json.loads(e.details)["imported_from"] for e in events) == sorted(
        str(p.resolve()) for p in originals.values())

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
    assert by("--since", "2024-06-01T09:00:00Z", "--until", "2024-06-02T00:00Z") == ["clip_a.mp4"]
    assert by("--since", "2024-06-01T10:00+02:00", "--until", "2024-06-01T10:31+02:00") == ["20240601_103000.mp4"]
    # without an offset: the site's zone (hq is in Europe/Berlin), never silently UTC
    assert by("--site", "hq", "--since", "2024-06-01T10:00", "--until", "2024-06-01T10:31") == ["20240601_103000.mp4"]
    assert by("--since", "2024-06-01T10:00", "--until", "2024-06-01T10:31", "--tz", "Europe/Berlin") \
        == ["20240601_103000.mp4"]
    assert by("--camera", "lab1", "--since", "2024-06-01T08:00", "--until", "2024-06-01T08:31") == []  # not UTC
    refused = invoke("clips", "list", "-c", cfg, "--expiring-before", "2024-06-05")  # two zones configured
    assert refused.exit_code == 2 and "no UTC offset" in refused.output and "--tz" in refused.output
    assert by("--expiring-before", "2024-06-05", "--tz", "UTC") == ["clip_a.mp4"]
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

    with Catalogue.open(catalogue_url(archive)) as cat, cat.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET object = 'clip 0000000000000000' WHERE seq = 2"))
    r = invoke("audit", "verify", "-c", cfg)
    assert r.exit_code == 1
    assert "event 2" in r.stderr and "changed" in r.stderr
    out = json.loads(invoke("audit", "verify", "--json", "-c", cfg).stdout)
    # the changed event, and the clip it recorded, which the log no longer accounts for (catalogue check)
    assert not out["ok"] and len(out["problems"]) == 2
    assert "event 2" in out["problems"][0] and "has no event in the audit log" in out["problems"][1]


def test_catalogue_commands_are_documented():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for command in ("init", "config check", "ingest", "run", "clips list", "clips show", "audit verify",
                    "audit export"):
        assert f"`anonymizer {command}" in readme, command
        assert invoke(*command.split(), "--help").exit_code == 0


# ---------------------------------------------------------------------------- import into the archive root


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def door_batch(root: Path, name: str = "b", seeds=(41, 42)) -> list[Path]:
    """Clips of camera door (site hq, Europe/Berlin), starting 31 May 23:30 UTC: 1 June in Berlin."""
    made = []
    for i, seed in enumerate(seeds):
        made.append(tiny_clip(root / name / "door" / f"c{i}.mp4", seed,
                              metadata={"creation_time": "2024-05-31T23:30:00Z"}))
    return made


def test_import_copies_into_the_archive_with_sha256_check_and_private_modes(archive: Path, tmp_path: Path):
    originals = door_batch(tmp_path)
    (tmp_path / "b" / "door" / "c0.json").write_text('{"camera": "door"}')
    r = invoke("ingest", str(tmp_path / "b"), "-c", str(archive / "anonymizer.toml"))
    assert r.exit_code == 0, r.output
    month = archive / "raw" / "hq" / "door" / "2024" / "06"  # local date in Berlin, not the UTC one (May)
    assert files_under(archive / "raw") == ["hq/door/2024/06/c0.mp4", "hq/door/2024/06/c0.mp4.json",
                                            "hq/door/2024/06/c1.mp4"]
    from anonymizer.pipelines.ingest import sha256_of

    got = {Path(c.uri).name: c for c in rows(archive)}
    for o in originals:
        c = got[o.name]
        assert Path(c.uri) == (month / o.name).resolve() and c.imported_from == str(o.resolve())
        assert sha256_of(Path(c.uri))[0] == sha256_of(o)[0] == c.sha256 and o.exists()
        assert stat.S_IMODE(Path(c.uri).stat().st_mode) in (0o640, 0o600)
    assert stat.S_IMODE((month / "c0.mp4.json").stat().st_mode) in (0o640, 0o600)
    for d in (archive / "raw", month.parent.parent.parent, month.parent.parent, month.parent, month):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert f"-> {(month / 'c0.mp4').resolve()}" in r.stdout
    assert r.stderr.count("warning: ") == 1 and "2 originals" in r.stderr
    shown = json.loads(invoke("clips", "show", got["c0.mp4"].id, "-c", str(archive / "anonymizer.toml"),
                              "--json").stdout)
    assert shown["imported_from"] == str(originals[0].resolve())


def test_a_copy_that_does_not_match_the_source_sha256_is_not_registered(archive: Path, tmp_path: Path,
                                                                       monkeypatch):
    import anonymizer.pipelines.ingest as ingest_mod

    door_batch(tmp_path, seeds=(43,))
    real = ingest_mod.shutil.copyfileobj

    def corrupting(src, dst, length=0):
        real(src, dst, length)
        dst.write(b"\0")  # a bad write (or a file still growing): the copy's sha256 differs

    monkeypatch.setattr(ingest_mod.shutil, "copyfileobj", corrupting)
    r = invoke("ingest", str(tmp_path / "b"), "-c", str(archive / "anonymizer.toml"))
    assert r.exit_code == 1
    assert "does not match the sha256" in r.stderr and "nothing was registered" in r.stderr
    assert rows(archive) == [] and rows(archive, "audit") == []
    assert files_under(archive / "raw") == []  # no temporary file left either
    monkeypatch.setattr(ingest_mod.shutil, "copyfileobj", real)
    assert invoke("ingest", str(tmp_path / "b"), "-c", str(archive / "anonymizer.toml")).exit_code == 0
    assert files_under(archive / "raw") == ["hq/door/2024/06/c0.mp4"]


def test_move_removes_the_originals_only_after_the_commit(archive: Path, tmp_path: Path, monkeypatch):
    import anonymizer.pipelines.ingest as ingest_mod

    originals = door_batch(tmp_path)
    (tmp_path / "b" / "door" / "c1.mp4.json").write_text('{"camera": "door"}')
    cfg = str(archive / "anonymizer.toml")
    real_register = ingest_mod.register_clip

    def crash(*_a, **_k):
        raise RuntimeError("killed between the copy and the catalogue commit")

    monkeypatch.setattr(ingest_mod, "register_clip", crash)
    with pytest.raises(RuntimeError):
        invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--move")
    # the copy is there, unregistered; the original is untouched
    assert files_under(archive / "raw") == ["hq/door/2024/06/c0.mp4"]
    assert rows(archive) == [] and all(o.exists() for o in originals)
    (archive / "raw" / "hq" / "door" / "2024" / "06" / ".c1.mp4.import-12345").write_bytes(b"half a copy")

    monkeypatch.setattr(ingest_mod, "register_clip", real_register)
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--move", "--json")
    assert r.exit_code == 0, r.output
    assert "warning: " not in r.stderr  # nothing is left outside the archive
    out = json.loads(r.stdout)
    assert [c["original_removed"] for c in out["clips"]] == [True, True]
    assert not any(o.exists() for o in originals) and not (tmp_path / "b" / "door" / "c1.mp4.json").exists()
    # the leftover copy was recognised (same sha256: no clash name), the half-written temporary file replaced
    assert files_under(archive / "raw") == ["hq/door/2024/06/c0.mp4", "hq/door/2024/06/c1.mp4",
                                            "hq/door/2024/06/c1.mp4.json"]
    events = rows(archive, "audit")
    assert [e.action for e in events] == ["ingest", "ingest.remove_original"] * 2
    for registered, removed in zip(events[::2], events[1::2]):
        assert registered.object == removed.object and registered.seq < removed.seq
        assert json.loads(removed.details)["original"] == json.loads(registered.details)["imported_from"]
    assert invoke("audit", "verify", "-c", cfg).exit_code == 0


def test_move_of_an_already_imported_batch_removes_the_verified_originals(archive: Path, tmp_path: Path):
    originals = door_batch(tmp_path)
    cfg = str(archive / "anonymizer.toml")
    assert invoke("ingest", str(tmp_path / "b"), "-c", cfg).exit_code == 0
    (c0, c1) = sorted(rows(archive), key=lambda c: Path(c.uri).name)
    Path(c1.uri).write_bytes(b"damaged")  # the archive copy no longer vouches for the original
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--move")
    assert r.exit_code == 3
    assert not originals[0].exists() and originals[1].exists()
    assert "c1.mp4: not removed (--move)" in r.stderr and "1 originals" in r.stderr
    assert [e.action for e in rows(archive, "audit")] == ["ingest", "ingest", "ingest.remove_original"]


def test_in_place_registers_outside_the_root_and_the_purge_reports_them(archive: Path, tmp_path: Path):
    from anonymizer.config import load_config
    from anonymizer.pipelines.purge import purge
    from anonymizer.store.catalogue import Catalogue

    originals = door_batch(tmp_path)
    cfg = str(archive / "anonymizer.toml")
    assert invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--in-place", "--move").exit_code == 2
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--in-place")
    assert r.exit_code == 0, r.output
    assert sorted(c.uri for c in rows(archive)) == sorted(str(o.resolve()) for o in originals)
    assert all(c.imported_from is None for c in rows(archive)) and files_under(archive / "raw") == []
    warnings = [l for l in r.stderr.splitlines() if l.startswith("warning: ")]
    assert len(warnings) == 1 and "registered in place outside the archive root" in warnings[0]
    assert json.loads(rows(archive, "audit")[0].details)["imported_from"] is None
    # rerun: nothing new
    again = json.loads(invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--json", "--in-place").stdout)
    assert (again["registered"], again["known"], again["failed"]) == (0, 2, 0)
    assert files_under(archive / "raw") == []

    conf = load_config(Path(cfg))
    with Catalogue.open(conf.catalogue_url) as cat:
        report = purge(cat, conf.policy, datetime(2025, 1, 1, tzinfo=UTC), conf.archive)  # marketing: 6 months
    assert report.exit_code == 3 and len(report.failures) == 2 and all(o.exists() for o in originals)

    # ingested again without --in-place: the clips are imported after all (same ids), and the purge can keep its word
    ids = sorted(c.id for c in rows(archive))
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg)
    assert r.exit_code == 0, r.output
    assert sorted(c.id for c in rows(archive)) == ids
    assert files_under(archive / "raw") == ["hq/door/2024/06/c0.mp4", "hq/door/2024/06/c1.mp4"]
    assert sorted(c.imported_from for c in rows(archive)) == sorted(str(o.resolve()) for o in originals)
    assert [e.action for e in rows(archive, "audit")][-2:] == ["ingest.import"] * 2
    assert "2 originals" in r.stderr
    with Catalogue.open(conf.catalogue_url) as cat:
        report = purge(cat, conf.policy, datetime(2025, 1, 1, tzinfo=UTC), conf.archive)
    assert report.exit_code == 0 and [o.outcome for o in report.outcomes] == ["deleted", "deleted"]
    assert files_under(archive / "raw") == [] and all(o.exists() for o in originals)


def test_rerun_is_idempotent(archive: Path, tmp_path: Path):
    door_batch(tmp_path)
    cfg = str(archive / "anonymizer.toml")
    assert invoke("ingest", str(tmp_path / "b"), "-c", cfg).exit_code == 0
    before = (rows(archive), files_under(archive / "raw"), rows(archive, "audit"))
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["registered"], out["known"], out["failed"]) == (0, 2, 0)
    assert "2 originals" in out["warning"]  # the originals are still outside: still said
    assert (rows(archive), files_under(archive / "raw"), rows(archive, "audit")) == before
    # the same content elsewhere is still a duplicate, named
    shutil.copy(tmp_path / "b" / "door" / "c0.mp4", tmp_path / "b" / "door" / "copy.mp4")
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg)
    c0 = next(c for c in rows(archive) if c.uri.endswith("c0.mp4"))
    assert r.exit_code == 3 and f"copy.mp4: duplicate of clip {c0.id} ({c0.uri}" in r.stderr
    assert files_under(archive / "raw") == before[1]


def test_name_clash_gets_a_short_sha_prefix(archive: Path, tmp_path: Path):
    cfg = str(archive / "anonymizer.toml")
    door_batch(tmp_path, "day1", seeds=(51,))
    door_batch(tmp_path, "day2", seeds=(52,))  # another recording, the same name, camera and month
    assert invoke("ingest", str(tmp_path / "day1"), "-c", cfg).exit_code == 0
    assert invoke("ingest", str(tmp_path / "day2"), "-c", cfg).exit_code == 0
    second = next(c for c in rows(archive) if c.imported_from.startswith(str((tmp_path / "day2").resolve())))
    assert files_under(archive / "raw") == sorted(["hq/door/2024/06/c0.mp4", f"hq/door/2024/06/{second.sha256[:8]}-c0.mp4"])
    assert Path(second.uri).name == f"{second.sha256[:8]}-c0.mp4"
    assert Path(second.uri).read_bytes() == (tmp_path / "day2" / "door" / "c0.mp4").read_bytes()


def test_a_batch_inside_the_archive_root_is_registered_in_place(archive: Path):
    made = door_batch(archive / "incoming")
    r = invoke("ingest", str(archive / "incoming" / "b"), "-c", str(archive / "anonymizer.toml"))
    assert r.exit_code == 0 and "warning: " not in r.stderr
    assert sorted(c.uri for c in rows(archive)) == sorted(str(p.resolve()) for p in made)
    assert all(c.imported_from is None for c in rows(archive)) and files_under(archive / "raw") == []


def test_purge_deletes_an_imported_clip_when_due(archive: Path, tmp_path: Path):
    from datetime import timedelta

    from anonymizer.config import load_config
    from anonymizer.pipelines.purge import purge
    from anonymizer.store.catalogue import Catalogue

    original = tiny_clip(tmp_path / "b" / "gate" / "g.mp4", 61, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    cfg = str(archive / "anonymizer.toml")
    assert invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--move").exit_code == 0
    (clip,) = rows(archive)
    assert Path(clip.uri).exists() and not original.exists()
    conf = load_config(Path(cfg))
    with Catalogue.open(conf.catalogue_url) as cat:
        early = purge(cat, conf.policy, clip.purge_after - timedelta(seconds=1), conf.archive)
        assert early.outcomes == [] and Path(clip.uri).exists()
        report = purge(cat, conf.policy, clip.purge_after + timedelta(seconds=1), conf.archive)
    assert report.exit_code == 0 and not report.failures
    assert [(o.clip_id, o.outcome) for o in report.outcomes] == [(clip.id, "deleted")]
    assert not Path(clip.uri).exists() and rows(archive)[0].state == "deleted"
    # a rerun of the ingest does not bring the purged footage back
    tiny_clip(tmp_path / "b" / "gate" / "g.mp4", 61, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    r = invoke("ingest", str(tmp_path / "b"), "-c", cfg, "--json")
    assert json.loads(r.stdout)["known"] == 1 and files_under(archive / "raw") == []
