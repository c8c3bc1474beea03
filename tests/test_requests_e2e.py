"""Requests end to end through the CLI, with clips made in the test: new -> find -> review -> apply (redact, cut,
remove, restrict, lift) -> export -> report -> close, and the catalogue, files and audit log after each step."""

import json
import shutil
import zipfile
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from anonymizer.config import load_config
from anonymizer.domain.clips import ClipRecord
from anonymizer.domain.requests import frames_in
from anonymizer.imaging.scene import scene_frames
from anonymizer.media.synth import write_video
from anonymizer.pipelines.ingest import sha256_of
from anonymizer.store.catalogue import Catalogue, ClipFilter
from tests.test_ingest import CONFIG, invoke

N = 40  # frames per clip, 25 fps: 1.6 s
RATE = 25


def make_clip(path: Path, seed: int, start: str) -> Path:
    frames = []
    for frame, _ in scene_frames(160, 120, N):
        f = frame.astype(np.int16)
        f[:8, :8] = (seed * 37) % 256
        frames.append(f.clip(0, 255).astype(np.uint8))
    write_video(path, frames, rate=Fraction(RATE))
    path.with_name(path.name + ".json").write_text(json.dumps({"start": start}))
    return path


def decode(path: Path) -> tuple[list[np.ndarray], list[float]]:
    frames, times = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="gray").astype(np.int16))
            times.append(float(f.pts * f.time_base))
    return frames, times


def cli_json(*args):
    r = invoke(*args, "--json")
    assert r.exit_code == 0, (args, r.output)
    return json.loads(r.stdout)


@pytest.fixture
def world(tmp_path: Path, backend):
    arch = tmp_path / "archive"
    arch.mkdir()
    (arch / "anonymizer.toml").write_text(backend.config_line(arch) + CONFIG.lstrip())
    assert invoke("init", str(arch)).exit_code == 0
    cfg = str(arch / "anonymizer.toml")
    batch = arch / "batch"
    clips = {
        "a": make_clip(batch / "lab1" / "a.mp4", 1, "2024-06-01T10:00:00Z"),
        "b": make_clip(batch / "lab1" / "b.mp4", 2, "2024-06-01T10:00:10Z"),
        "c": make_clip(batch / "gate" / "c.mp4", 3, "2024-06-01T10:00:00Z"),
    }
    r = invoke("ingest", str(batch), "-c", cfg)
    assert r.exit_code == 0, r.output
    originals = {k: decode(p) for k, p in clips.items()}
    return {"arch": arch, "cfg": cfg, "clips": clips, "orig": originals}


def catalogue(world) -> Catalogue:
    return Catalogue.open(load_config(Path(world["cfg"])).catalogue_url)


def by_uri(world, key) -> ClipRecord:
    with catalogue(world) as cat:
        return next(c for c in cat.find(ClipFilter()) if c.uri == str(world["clips"][key].resolve()))


def new(world, kind, start, end, place, *extra):
    return cli_json("requests", "new", "-c", world["cfg"], "--kind", kind, "--received", "2024-06-05",
                    "--from", start, "--to", end, "--place", place, "--tolerance", "0", *extra)


def actions(world) -> list[str]:
    with catalogue(world) as cat:
        return [e.action for e in cat.audit_events()]


def test_redact_whole_frames_over_the_segment(world):
    req = new(world, "objection", "2024-06-01T10:00:00.5Z", "2024-06-01T10:00:00.9Z", "lab1")
    assert req["due_local"].startswith("2024-07-05 00:00:00 CEST")  # received 5 June in the site's calendar
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])
    assert len(found["segments"]) == 1  # only clip a: b starts 10 s later, c is another camera
    seg = found["segments"][0]
    a = by_uri(world, "a")
    assert seg["clip_id"] == a.id
    assert (seg["start_offset_s"], seg["end_offset_s"]) == pytest.approx((0.5, 0.9))
    assert "camera lab1" in seg["explanation"]

    plan = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", seg["id"], "--dry-run")
    assert plan["dry_run"] and plan["segments"][0]["action"] == "redact"
    assert sha256_of(world["clips"]["a"])[0] == a.sha256  # nothing changed

    done = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", seg["id"])
    assert not done["failed"], done
    frames, times = decode(world["clips"]["a"])
    o_frames, o_times = world["orig"]["a"]
    assert len(frames) == N and times == pytest.approx(o_times, abs=1e-3)
    hit = set(frames_in(0.5, 0.9, o_times, N / RATE))
    assert hit == set(range(12, 23))  # 0.48 s (shown until 0.52) .. 0.88 s
    for i, (f, o) in enumerate(zip(frames, o_frames)):
        if i in hit:
            assert f.max() - f.min() <= 2 and f.max() <= 18, i  # solid: black
        else:
            assert np.abs(f - o).mean() < 3, i  # re-encoded, otherwise unchanged
    rec = by_uri(world, "a")
    assert rec.state == "amended" and rec.sha256 == sha256_of(world["clips"]["a"])[0] and rec.frames == N
    assert rec.id == a.id and rec.sha256 != a.sha256
    assert "request.redact" in actions(world)
    assert not list(world["clips"]["a"].parent.glob(".*partial*"))


def test_cut_removes_exactly_the_segment(world):
    req = new(world, "objection", "2024-06-01T10:00:10.6Z", "2024-06-01T10:00:10.8Z", "Headquarters")
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])
    (seg,) = found["segments"]
    assert "site hq" in seg["explanation"]
    cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", seg["id"], "--action", "cut")
    o_frames, o_times = world["orig"]["b"]
    hit = frames_in(0.6, 0.8, o_times, N / RATE)
    assert hit == list(range(15, 21))  # 0.60 s .. 0.80 s: the frames that start at the edges, nothing before
    frames, times = decode(world["clips"]["b"])
    kept = [i for i in range(N) if i not in hit]
    assert len(frames) == len(kept) == by_uri(world, "b").frames
    assert times == pytest.approx([o_times[i] for i in kept], abs=1e-3)  # the rest keep their timestamps
    for f, i in zip(frames, kept):
        assert np.abs(f - o_frames[i]).mean() < 3


def test_remove_deletes_the_clip_and_its_copy(world):
    a = by_uri(world, "a")
    copy_path = world["arch"] / "anonymised" / "a.mp4"
    copy_path.parent.mkdir(parents=True)
    shutil.copy(world["clips"]["a"], copy_path)
    with open(copy_path, "ab") as fh:
        fh.write(b"\0")  # other content, other sha256
    sha, size = sha256_of(copy_path)
    copy = ClipRecord(**{**a.__dict__, "id": sha[:16], "sha256": sha, "size": size, "uri": str(copy_path),
                         "state": "anonymised", "derived_from": a.id, "purge_after": None})
    with catalogue(world) as cat, cat.transaction() as conn:
        cat.add_clip(conn, copy)
    req = new(world, "erasure", "2024-06-01T10:00:01Z", "2024-06-01T10:00:01Z", "lab1")
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])
    assert sorted(s["clip_id"] for s in found["segments"]) == sorted([a.id, copy.id])
    raw_seg = next(s for s in found["segments"] if s["clip_id"] == a.id)
    r = invoke("requests", "close", req["id"], "-c", world["cfg"])
    assert r.exit_code == 0  # nothing selected yet
    req = new(world, "erasure", "2024-06-01T10:00:01Z", "2024-06-01T10:00:01Z", "lab1")
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])
    raw_seg = next(s for s in found["segments"] if s["clip_id"] == a.id)
    done = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", raw_seg["id"])
    assert done["action"] == "remove" and not done["failed"]
    assert not world["clips"]["a"].exists() and not copy_path.exists()
    with catalogue(world) as cat:
        states = {c.id: c.state for c in cat.find(ClipFilter())}
    assert states[a.id] == states[copy.id] == "deleted"
    assert actions(world).count("request.remove") == 2
    shown = cli_json("requests", "show", req["id"], "-c", world["cfg"])
    assert all(s["action"] == "remove" for s in shown["segments"])  # the copy's segment was handled with it
    cli_json("requests", "close", req["id"], "-c", world["cfg"])


def test_export_contains_exactly_the_segment(world, tmp_path):
    req = new(world, "access", "2024-06-01T10:00:00.2Z", "2024-06-01T10:00:00.6Z", "gate")
    (seg,) = cli_json("requests", "find", req["id"], "-c", world["cfg"])["segments"]
    out = tmp_path / "export.zip"
    ex = cli_json("requests", "export", req["id"], "-c", world["cfg"], "--out", str(out), "--segments", seg["id"],
                  "--no-redact-others")  # the segment as recorded (tests/test_access_copy.py: others redacted)
    with zipfile.ZipFile(out) as z:
        names = sorted(z.namelist())
        z.extractall(tmp_path / "x")
    assert names == sorted(["manifest.json", "summary.txt", ex["segments"][0]["file"]])
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    item = manifest["segments"][0]
    assert item["camera"] == "gate" and item["site"] == "street" and item["clip"] == by_uri(world, "c").id
    video = tmp_path / "x" / item["file"]
    assert sha256_of(video)[0] == item["sha256"]
    o_frames, o_times = world["orig"]["c"]
    hit = frames_in(0.2, 0.6, o_times, N / RATE)
    frames, times = decode(video)
    assert len(frames) == len(hit) == item["frames"]
    assert times == pytest.approx([o_times[i] - o_times[hit[0]] for i in hit], abs=1e-3)
    for f, i in zip(frames, hit):
        assert np.abs(f - o_frames[i]).mean() < 3
    assert "gate" in (tmp_path / "x" / "summary.txt").read_text()
    assert "request.export" in actions(world)
    cli_json("requests", "close", req["id"], "-c", world["cfg"])


def test_restriction_blocks_processing_until_lifted_and_close_waits(world, tmp_path):
    req = new(world, "restriction", "2024-06-01T10:00:00Z", "2024-06-01T10:00:01Z", "gate")
    (seg,) = cli_json("requests", "find", req["id"], "-c", world["cfg"])["segments"]
    cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", seg["id"])
    assert by_uri(world, "c").restricted
    other = new(world, "access", "2024-06-01T10:00:00Z", "2024-06-01T10:00:01Z", "gate")
    (oseg,) = cli_json("requests", "find", other["id"], "-c", world["cfg"])["segments"]
    r = invoke("requests", "export", other["id"], "-c", world["cfg"], "--out", str(tmp_path / "e"),
               "--segments", oseg["id"])
    assert r.exit_code == 1 and "restricted" in r.stderr and req["id"] in r.stderr
    r = invoke("requests", "apply", other["id"], "-c", world["cfg"], "--segments", oseg["id"], "--action", "redact")
    assert r.exit_code == 1 and "restricted" in r.stderr
    # a selected segment that was not handled blocks closing
    r = invoke("requests", "close", other["id"], "-c", world["cfg"])
    assert r.exit_code == 1 and oseg["id"] in r.stderr
    cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--action", "lift")
    assert not by_uri(world, "c").restricted
    cli_json("requests", "export", other["id"], "-c", world["cfg"], "--out", str(tmp_path / "e"))
    assert (tmp_path / "e" / "manifest.json").exists()
    cli_json("requests", "close", other["id"], "-c", world["cfg"])
    listed = cli_json("requests", "list", "-c", world["cfg"])
    assert [r["id"] for r in listed] == [req["id"]]
    rep = cli_json("requests", "report", req["id"], "-c", world["cfg"])
    doc = json.loads(Path(rep["json"]).read_text())
    assert [e["action"] for e in doc["events"]] == ["request.new", "request.find", "request.select",
                                                    "request.restrict", "request.lift"]
    assert "Restriction request" in Path(rep["html"]).read_text()
    acts = actions(world)
    assert acts[-1] == "request.report"
    with catalogue(world) as cat:
        assert cat.audit_verify().ok


def test_list_overdue_first_and_bad_input(world):
    cli_json("requests", "new", "-c", world["cfg"], "--kind", "erasure", "--received", "2024-01-31",
             "--from", "2024-01-01T10:00Z", "--to", "2024-01-01T11:00Z", "--place", "52.52,13.405",
             "--radius", "50")
    fresh = new(world, "erasure", "2024-06-01T10:00Z", "2024-06-01T11:00Z", "hq")
    listed = cli_json("requests", "list", "-c", world["cfg"])
    assert listed[0]["due_local"].startswith("2024-02-29") and listed[0]["overdue"]  # the point is at hq: Berlin
    assert listed[1]["id"] == fresh["id"]
    r = invoke("requests", "new", "-c", world["cfg"], "--kind", "erasure", "--received", "2024-06-05",
               "--from", "2024-06-01T11:00Z", "--to", "2024-06-01T10:00Z", "--place", "hq")
    assert r.exit_code == 2 and "before it starts" in r.stderr
    r = invoke("requests", "new", "-c", world["cfg"], "--kind", "erasure", "--received", "2024-06-05",
               "--from", "2024-06-01T10:00Z", "--to", "2024-06-01T11:00Z", "--place", "mars")
    assert r.exit_code == 2 and "known:" in r.stderr
    # the point near hq matches hq's clips
    (point,) = [r for r in listed if r["place_kind"] == "point"]
    assert point["radius_m"] == 50


def test_review_page_has_thumbnails_and_checkboxes(world):
    req = new(world, "objection", "2024-06-01T10:00:00Z", "2024-06-01T10:00:11Z", "hq")
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])
    assert len(found["segments"]) == 2
    r = cli_json("requests", "review", req["id"], "-c", world["cfg"], "--every", "0.5")
    page = Path(r["page"]).read_text()
    assert page.count('class="segment-choice"') == 2
    assert page.count("data:image/jpeg;base64,") == r["thumbnails"] >= 4
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "request.review" in actions(world)


def test_written_files_are_private(world):
    import stat

    req = new(world, "objection", "2024-06-01T10:00:00Z", "2024-06-01T10:00:01Z", "lab1")
    cli_json("requests", "find", req["id"], "-c", world["cfg"])
    page = Path(cli_json("requests", "review", req["id"], "-c", world["cfg"])["page"])
    rep = cli_json("requests", "report", req["id"], "-c", world["cfg"])
    for p in (page, Path(rep["json"]), Path(rep["html"])):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for d in (page.parent, page.parent.parent):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_find_again_updates_unhandled_segments_keeps_handled_ones_and_drops_the_rest(world):
    """A second ``find`` (the catalogue changed meanwhile): a segment already handled stays as it was, an
    unhandled one gets the new offsets, one no longer matched goes (store_segments: one upsert, one delete)."""
    from sqlalchemy import update

    from anonymizer.store.schema import clips

    def shift(clip, by):
        with catalogue(world) as cat, cat.transaction() as conn:
            conn.execute(update(clips).where(clips.c.id == clip.id).values(start_utc=clip.start + by,
                                                                            end_utc=clip.end + by))

    def find():
        return {s["clip_id"]: s for s in cli_json("requests", "find", req["id"], "-c", world["cfg"])["segments"]}

    req = new(world, "restriction", "2024-06-01T10:00:00Z", "2024-06-01T10:00:11Z", "hq")
    first = find()
    a, b = by_uri(world, "a"), by_uri(world, "b")
    assert set(first) == {a.id, b.id}
    done = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--segments", first[b.id]["id"])
    assert not done["failed"], done
    for c in (a, b):  # both recordings now start half a second later
        shift(c, timedelta(seconds=0.5))
    again = find()
    assert again[a.id]["id"] == first[a.id]["id"] and again[a.id]["handled_at"] is None
    assert again[a.id]["start_utc"] > first[a.id]["start_utc"]  # unhandled: found anew
    assert (again[b.id]["start_utc"], again[b.id]["end_utc"]) == (first[b.id]["start_utc"], first[b.id]["end_utc"])
    assert again[b.id]["action"] == "restrict" and again[b.id]["handled_at"] and again[b.id]["selected"]
    for c in (a, b):  # both out of the window: a's unhandled segment goes, b's handled one stays
        shift(c, timedelta(hours=2))
    last = find()
    assert list(last) == [b.id] and last[b.id]["clip"]["restricted"]
