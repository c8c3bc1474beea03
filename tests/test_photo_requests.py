"""A catalogued photo (a clip of one frame, ``anonymizer run``) through the DPO's flows and the purge, as a clip
goes: ``requests review`` finds it and offers its faces (read with Pillow, EXIF orientation applied), ``requests
export`` writes an access copy that is a photo of its format (the requester's face kept, every other redacted),
``requests apply`` erases the photo and its copy (or redacts it whole for an objection) and names it in the audit log
and the report, and ``purge`` deletes a raw photo whose time is up, without decoding it, unless it is held.
Real models; a 448 x 192 picture of two public-domain faces (scikit-image), stored turned a quarter (EXIF 6)."""

from __future__ import annotations

import io
import json
from base64 import b64decode
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from skimage import data

from tests.test_access_copy import detail_correlation
from tests.test_ingest import invoke, rows
from tests.test_photos_out import assert_no_metadata, exif
from tests.test_run import setup_archive

pytestmark = pytest.mark.slow

W, H = 448, 192  # the picture as displayed
ASTRO = (slice(35, 85), slice(93, 132))  # inside the astronaut's face (CenterFace: about x 90-135, y 30-90)
CAMERAMAN = (slice(42, 75), slice(310, 335))  # inside the cameraman's face (about x 308-337, y 40-77)


def two_faces() -> np.ndarray:
    """The astronaut (left) and the cameraman (right), side by side, as displayed."""
    astro = np.asarray(Image.fromarray(data.astronaut()[:384]).resize((256, 192)))
    cam = np.stack([data.camera()[40:424, 96:480]] * 3, axis=-1)
    cam = np.asarray(Image.fromarray(np.ascontiguousarray(cam)).resize((192, 192)))
    return np.ascontiguousarray(np.concatenate([astro, cam], axis=1))


def write_photo(path: Path, shown: np.ndarray, taken: str = "2024:06:01 09:30:00", fmt: str = "JPEG") -> Path:
    """``shown`` stored turned a quarter with EXIF orientation 6 (as phones do), camera make, GPS and times."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kw = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(np.ascontiguousarray(np.rot90(shown, 1))).save(path, fmt, exif=exif(orientation=6, taken=taken),
                                                                    **kw)
    return path


def displayed(path: Path) -> np.ndarray:
    from anonymizer.media.photo import read_photo

    return read_photo(path).rgb


def no_decoding(*args, **kwargs):
    raise AssertionError("a photo was opened with PyAV (or decoded where nothing should be)")


def cli_json(*args: str):
    r = invoke(*args, "--json")
    assert r.exit_code == 0, (args, r.output)
    return json.loads(r.stdout)


def photo_world(tmp_path: Path, kind: str) -> dict:
    """``run`` on a batch of one photo (the raw photo and its anonymised copy catalogued), then a request of
    ``kind`` for camera door around the photo's time, found."""
    cfg = setup_archive(tmp_path)
    write_photo(tmp_path / "batch" / "door" / "IMG_0001.jpg", two_faces())
    r = invoke("run", str(tmp_path / "batch"), "-c", cfg, "-j", "1", "--json")
    assert r.exit_code == 0, r.output
    raw = next(c for c in rows(tmp_path / "archive") if c.state == "raw")
    copy = next(c for c in rows(tmp_path / "archive") if c.state == "anonymised")
    req = cli_json("requests", "new", "-c", cfg, "--kind", kind, "--received", "2024-06-05", "--from",
                   "2024-06-01T09:29:50Z", "--to", "2024-06-01T09:30:10Z", "--place", "door")
    segs = cli_json("requests", "find", req["id"], "-c", cfg)["segments"]
    seg = {s["clip_id"]: s["id"] for s in segs}
    assert set(seg) == {raw.id, copy.id}  # found like a clip: the photo and its copy, one recording
    return {"cfg": cfg, "rid": req["id"], "raw": raw, "copy": copy, "seg": seg[raw.id], "copy_seg": seg[copy.id],
            "arch": tmp_path / "archive"}


def review_tracks(world) -> tuple[dict, list[dict]]:
    page = cli_json("requests", "review", world["rid"], "-c", world["cfg"])
    doc = json.loads(Path(page["tracks"]).read_text())
    return page, doc["segments"][world["seg"]]["tracks"]


def test_review_finds_the_photo_and_offers_its_faces_as_displayed(tmp_path: Path, models_ready, monkeypatch):
    """One recording (the photo and its copy), one thumbnail of the photo as displayed (landscape, though stored
    portrait), and its two faces as tracks of one frame in display pixels, each with a preview; PyAV opens nothing."""
    world = photo_world(tmp_path, "access")
    monkeypatch.setattr(av, "open", no_decoding)
    page, tracks = review_tracks(world)
    assert (page["recordings"], page["segments"], page["thumbnails"], page["face_tracks"]) == (1, 2, 1, 2)
    assert all(t["frames"] == [0] for t in tracks)
    centres = sorted(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for t in tracks for b in t["boxes"])
    assert 90 < centres[0][0] < 135 and 308 < centres[1][0] < 337, centres  # display x: astronaut, cameraman
    assert all(30 < y < 90 for _, y in centres), centres
    html = Path(page["page"]).read_text()
    assert html.count('class="track-choice"') == 2 and html.count('class="face"') == 2
    thumb = html.split('class="thumb"', 1)[1].split('src="data:image/jpeg;base64,', 1)[1].split('"', 1)[0]
    with Image.open(io.BytesIO(b64decode(thumb))) as im:
        assert im.width > im.height, im.size  # upright: EXIF orientation applied


def test_access_copy_of_a_photo_is_a_photo_keeping_only_the_requester(tmp_path: Path, models_ready, monkeypatch):
    """--keep the astronaut's face: the copy is a JPEG of the displayed size without metadata, her face as
    recorded, the cameraman's destroyed; the manifest and summary say what was written. --no-redact-others gives
    the photo as recorded (pixels only)."""
    world = photo_world(tmp_path, "access")
    monkeypatch.setattr(av, "open", no_decoding)
    _, tracks = review_tracks(world)
    astro = next(t["id"] for t in tracks if (t["boxes"][0][0] + t["boxes"][0][2]) / 2 < W / 2)
    out = tmp_path / "copy"
    cli_json("requests", "export", world["rid"], "-c", world["cfg"], "--out", str(out), "--segments", world["seg"],
             "--keep", f"{world['seg']}:{astro}")
    (item,) = json.loads((out / "manifest.json").read_text())["segments"]
    assert item["file"] == f"{world['seg']}-door.jpg" and item["photo"] and item["frames"] == 1
    red = item["redaction"]
    assert red["others_redacted"] and red["kept_faces"] == [astro] and red["kept_frames"] == {str(astro): 1}
    assert red["verified"] and red["detections"]["face"] >= 2
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.json", "summary.txt", item["file"]])
    with Image.open(out / item["file"]) as im:
        assert im.format == "JPEG" and im.size == (W, H)
        got = np.asarray(im.convert("L")).astype(np.float64)
    assert_no_metadata(out / item["file"])
    orig = displayed(Path(world["raw"].uri)).astype(np.float64) @ [0.299, 0.587, 0.114]
    assert detail_correlation(got[ASTRO], orig[ASTRO]) > 0.8 and np.abs(got[ASTRO] - orig[ASTRO]).mean() < 6
    assert abs(detail_correlation(got[CAMERAMAN], orig[CAMERAMAN])) < 0.2
    summary = (out / "summary.txt").read_text()
    assert "a photo taken 2024-06-01 11:30:00" in summary and f"kept unredacted: face {astro}" in summary

    plain = tmp_path / "plain"
    cli_json("requests", "export", world["rid"], "-c", world["cfg"], "--out", str(plain), "--segments",
             world["seg"], "--no-redact-others")
    (item,) = json.loads((plain / "manifest.json").read_text())["segments"]
    with Image.open(plain / item["file"]) as im:
        assert im.format == "JPEG" and im.size == (W, H)
        same = np.asarray(im.convert("L")).astype(np.float64)
    assert_no_metadata(plain / item["file"])
    assert np.abs(same - orig).mean() < 3 and item["redaction"] == {"others_redacted": False}


def test_erasure_deletes_the_photo_and_its_copy_and_names_the_photo(tmp_path: Path, models_ready):
    world = photo_world(tmp_path, "erasure")
    raw, copy = world["raw"], world["copy"]
    done = cli_json("requests", "apply", world["rid"], "-c", world["cfg"], "--segments", world["seg"])
    assert not done["failed"], done
    assert not Path(raw.uri).exists() and not Path(copy.uri).exists() and not Path(copy.report_uri).exists()
    assert {c.id: c.state for c in rows(world["arch"])} == {raw.id: "deleted", copy.id: "deleted"}
    events = [json.loads(line) for line in invoke("audit", "export", "-c", world["cfg"]).stdout.splitlines()]
    removed = {e["object"]: e["details"]["uri"] for e in events if e["action"] == "request.remove"}
    assert removed == {f"clip {raw.id}": raw.uri, f"clip {copy.id}": copy.uri}
    assert all(uri.endswith("IMG_0001.jpg") for uri in removed.values())
    assert invoke("audit", "verify", "-c", world["cfg"]).exit_code == 0
    report = cli_json("requests", "report", world["rid"], "-c", world["cfg"])
    assert Path(report["html"]).read_text().count("photo IMG_0001.jpg") == 2  # the photo and its copy


def test_objection_redacts_the_whole_photo_and_cut_is_refused(tmp_path: Path, models_ready, monkeypatch):
    """An objection's default (redact the segment's frames) blacks out the photo and its copy, which stay photos
    of their format; cutting the only frame is refused with the fix."""
    world = photo_world(tmp_path, "objection")
    monkeypatch.setattr(av, "open", no_decoding)
    r = invoke("requests", "apply", world["rid"], "-c", world["cfg"], "--segments", world["seg"], "--action", "cut",
               "--json")
    assert "use --action remove instead of cut" in r.output
    done = cli_json("requests", "apply", world["rid"], "-c", world["cfg"], "--segments", world["seg"])
    assert not done["failed"], done
    after = {c.id: c for c in rows(world["arch"])}
    for before in (world["raw"], world["copy"]):
        c = after[before.id]
        assert c.sha256 != before.sha256 and c.frames == 1 and (c.width, c.height) == (W, H)
        with Image.open(c.uri) as im:
            assert im.format == "JPEG" and np.asarray(im.convert("L")).max() <= 20  # solid: black
        assert_no_metadata(Path(c.uri))
    assert after[world["raw"].id].state == "amended" and after[world["copy"].id].state == "anonymised"


def test_purge_deletes_a_raw_photo_without_decoding_it_and_a_hold_keeps_one(tmp_path: Path, monkeypatch):
    """Two raw photos of 2024 (a JPEG and a PNG), long past their time: purge deletes the one not held like a clip
    (file, state, audit event) and keeps the one under a clip hold; nothing is decoded (neither PyAV nor Pillow)."""
    cfg = setup_archive(tmp_path)
    small = np.asarray(Image.fromarray(two_faces()).resize((224, 96)))
    write_photo(tmp_path / "batch" / "door" / "IMG_0002.jpg", small)
    write_photo(tmp_path / "batch" / "door" / "IMG_0003.png", small, taken="2024:06:01 09:31:00", fmt="PNG")
    assert invoke("ingest", str(tmp_path / "batch"), "-c", cfg).exit_code == 0
    photos = {Path(c.uri).name: c for c in rows(tmp_path / "archive")}
    held = photos["IMG_0003.png"]
    cli_json("holds", "add", "-c", cfg, "--scope", "clip", "--target", held.id, "--kind", "legal", "--reason",
             "case 7", "--owner", "dpo")
    monkeypatch.setattr(av, "open", no_decoding)
    monkeypatch.setattr(Image, "open", no_decoding)
    r = invoke("purge", "-c", cfg, "--json")
    monkeypatch.undo()
    assert r.exit_code == 0, r.output
    after = {c.id: c.state for c in rows(tmp_path / "archive")}
    gone = photos["IMG_0002.jpg"]
    assert after == {gone.id: "deleted", held.id: "raw"}
    assert not Path(gone.uri).exists() and Path(held.uri).exists()
    events = [e for e in rows(tmp_path / "archive", "audit") if e.action.startswith("purge")]
    assert any(gone.id in e.object for e in events), [(e.action, e.object) for e in events]
