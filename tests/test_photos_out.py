"""Photos in, photos out (issue 31): a JPEG or PNG given to ``anonymise`` (or found in a folder, or in a ``run``
batch) comes back as a photo of the same name and format, redacted with the photo plan (``regions_for_image``),
upright (EXIF orientation applied), without EXIF/GPS/text metadata, with a report beside it; a corrupt photo gets
one error line and the batch goes on. Real models, public-domain pictures (scikit-image), 512 px or less."""

from __future__ import annotations

import json
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin
from skimage import data

from anonymizer.cli.main import cli
from tests.test_boundaries import imports, modules

pytestmark = pytest.mark.slow

# The astronaut's face, in display pixels of the top 384 rows of the 512 px picture (CenterFace finds it about at
# x 155-296, y 22-213): well inside what is redacted.
FACE = (slice(60, 180), slice(180, 270))
FAR = (slice(300, 384), slice(0, 512))  # her suit and the background below: nothing to redact there
SECRETS = (b"SecretCam", b"Exif\x00\x00", b"Jane Doe")


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def upright() -> np.ndarray:
    """The picture as it should be displayed: 512 wide, 384 high, a face near the top."""
    return np.ascontiguousarray(data.astronaut()[:384])


def exif(orientation: int = 1, taken: str = "2024:06:01 09:30:00") -> Image.Exif:
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = "SecretCam"  # Make
    ex[0x0132] = taken  # DateTime
    ex.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal
    gps = ex.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.6), "E", (2.0, 17.0, 40.2)
    return ex


def assert_no_metadata(path: Path) -> None:
    with Image.open(path) as im:
        assert not im.getexif(), dict(im.getexif())
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(im.info), im.info
        assert not getattr(im, "text", {}), im.text
    raw = path.read_bytes()
    assert not [s for s in SECRETS if s in raw]


def assert_redacted(before: np.ndarray, after: np.ndarray, rest_tolerance: float) -> None:
    """The face's pixels differ strongly; far from it the picture is what it was (JPEG: within re-encoding)."""
    diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).mean(axis=2)
    assert diff[FACE].mean() > 25, diff[FACE].mean()
    assert diff[FAR].mean() <= rest_tolerance, diff[FAR].mean()
    assert (diff > 20).mean() < 0.25  # the face, not the whole picture


def test_jpeg_with_exif_comes_back_an_upright_jpeg_without_metadata(tmp_path: Path, models_ready):
    """Stored turned a quarter (EXIF orientation 6, as phones do), with camera make, times and GPS: the output is
    OUT/photo.jpg, a JPEG of the displayed size, upright, the face blurred, no EXIF, a report beside it."""
    shown = upright()
    src = tmp_path / "in" / "photo.jpg"
    src.parent.mkdir()
    Image.fromarray(np.rot90(shown, 1)).save(src, "JPEG", quality=95, exif=exif(orientation=6))
    out = tmp_path / "out"
    r = run_cli("anonymise", str(src), "--out", str(out), "-j", "1")
    assert r.exit_code == 0, r.output + r.stderr
    dst = out / "photo.jpg"
    assert not (out / "photo.mp4").exists()
    with Image.open(dst) as im:
        assert im.format == "JPEG" and im.size == (512, 384)
        result = np.asarray(im.convert("RGB"))
    assert_redacted(shown, result, rest_tolerance=3.0)
    assert_no_metadata(dst)
    assert stat.S_IMODE(dst.stat().st_mode) == 0o640
    report = json.loads((out / "photo.jpg.report.json").read_text())
    assert report["detections"]["face"] >= 1 and report["frames"] == 1
    assert report["settings"]["method"] == "blur" and report["models"]
    assert report["photo"]["exif_orientation_applied"] == 6
    assert {"exif", "gps"} <= set(report["photo"]["metadata_dropped"])
    assert report["residual"]["passed"] and report["status"] == "published"
    assert b"SecretCam" not in (out / "photo.jpg.report.json").read_bytes()  # names of metadata, never values
    assert not [p for p in out.rglob(".*") if "partial" in p.name]
    # an existing output is not replaced without --overwrite
    again = run_cli("anonymise", str(src), "--out", str(out), "-j", "1")
    assert again.exit_code == 1 and "output exists" in again.stderr


def test_png_with_alpha_and_text_comes_back_a_png(tmp_path: Path, models_ready):
    """A PNG with transparency and text chunks: OUT/pic.png, same size, alpha kept, the face blurred, every other
    pixel exactly as it was (lossless), no text chunk; --overwrite replaces what was there."""
    shown = upright()
    alpha = np.full(shown.shape[:2], 255, np.uint8)
    alpha[:, :16] = 0
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    src = tmp_path / "pic.png"
    Image.fromarray(np.dstack([shown, alpha]), "RGBA").save(src, "PNG", pnginfo=info, exif=exif())
    out = tmp_path / "out"
    out.mkdir()
    (out / "pic.png").write_bytes(b"an older output")
    r = run_cli("anonymise", str(src), "--out", str(out), "-j", "1", "--overwrite")
    assert r.exit_code == 0, r.output + r.stderr
    with Image.open(out / "pic.png") as im:
        assert im.format == "PNG" and im.size == (512, 384) and im.mode == "RGBA"
        result = np.asarray(im)
    assert np.array_equal(result[:, :, 3], alpha)
    assert_redacted(shown, result[:, :, :3], rest_tolerance=0.0)
    assert_no_metadata(out / "pic.png")
    report = json.loads((out / "pic.png.report.json").read_text())
    assert report["detections"]["face"] >= 1 and report["photo"]["format"] == "PNG"


def test_corrupt_photo_one_line_and_the_folder_goes_on(tmp_path: Path, models_ready):
    """A folder with a truncated JPEG, a good (small) JPEG and a text file: the photos are walked, the bad one gets
    one error line naming it and why, the good one is done, exit 3 (partly done); nothing of the bad one is left."""
    folder = tmp_path / "in"
    folder.mkdir()
    small = np.ascontiguousarray(np.asarray(Image.fromarray(upright()).resize((256, 192))))
    Image.fromarray(small).save(folder / "good.jpeg", "JPEG", quality=95)
    Image.fromarray(upright()).save(folder / "whole.jpg", "JPEG", quality=95)
    whole = (folder / "whole.jpg").read_bytes()
    (folder / "whole.jpg").unlink()
    (folder / "broken.jpg").write_bytes(whole[: len(whole) // 3])
    (folder / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    r = run_cli("anonymise", str(folder), "--out", str(out), "-j", "1")
    assert r.exit_code == 3, r.output + r.stderr
    assert "Traceback" not in r.output + r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0] and "truncated" in errors[0], errors
    with Image.open(out / "good.jpeg") as im:
        assert im.format == "JPEG" and im.size == (256, 192)
    assert (out / "good.jpeg.report.json").exists()
    assert sorted(p.name for p in out.iterdir()) == ["good.jpeg", "good.jpeg.report.json"]


def test_run_catalogues_a_photo_as_a_clip_of_one_frame(tmp_path: Path, models_ready):
    """``run``: a photo is ingested as a clip of one frame (recording time from its EXIF DateTimeOriginal, the
    camera's clock deciding, as for a container time) and its anonymised copy is a JPEG, recorded beside it."""
    from tests.test_ingest import rows
    from tests.test_run import setup_archive

    cfg = setup_archive(tmp_path)
    archive = tmp_path / "archive"
    src = tmp_path / "batch" / "door" / "IMG_0001.jpg"
    src.parent.mkdir(parents=True)
    small = np.asarray(Image.fromarray(upright()).resize((256, 192)))
    Image.fromarray(small).save(src, "JPEG", quality=95, exif=exif(taken="2024:06:01 09:30:00"))
    r = run_cli("run", str(tmp_path / "batch"), "-c", cfg, "-j", "1", "--json")
    assert r.exit_code == 0, r.output + r.stderr
    clips = rows(archive)
    raw = next(c for c in clips if c.state == "raw")
    copy = next(c for c in clips if c.state == "anonymised")
    assert (raw.frames, raw.codec, raw.width, raw.height, raw.time_source) == (1, "jpeg", 256, 192, "container")
    assert raw.start == datetime(2024, 6, 1, 9, 30, tzinfo=timezone.utc)  # camera "door": clock utc
    assert copy.derived_from == raw.id and copy.uri.endswith("IMG_0001.jpg") and copy.frames == 1
    with Image.open(copy.uri) as im:
        assert im.format == "JPEG" and im.size == (256, 192)
    assert_no_metadata(Path(copy.uri))
    assert json.loads(Path(copy.report_uri).read_text())["detections"]["face"] >= 1


def test_quality_harness_scores_what_the_product_writes(tmp_path: Path, detectors, monkeypatch):
    """benchmarks/quality.py scores a photo through ``anonymise_photo`` (the function the CLI runs), and scores the
    regions that function redacted."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import quality

    from anonymizer.pipelines import photo
    from anonymizer.settings import AnonymiseSettings

    calls = []

    def spy(*args, **kwargs):
        result = photo.anonymise_photo(*args, **kwargs)
        calls.append(result)
        return result

    monkeypatch.setattr(quality, "anonymise_photo", spy)
    small = np.asarray(Image.fromarray(upright()).resize((256, 192)))
    Image.fromarray(small).save(tmp_path / "a.jpg", "JPEG", quality=95)
    row = quality.Row(index=0, kind="face", boxes=np.array([[90.0, 30.0, 135.0, 90.0]]), ignore=np.zeros((0, 4)),
                      image="a.jpg")
    tally = quality.eval_images(tmp_path, [row], AnonymiseSettings(), detectors)
    assert len(calls) == 1 and calls[0].report.photo["plan"] == "regions_for_image"
    assert tally.gt == 1 and tally.covered == 1


def test_pillow_only_in_the_photo_module():
    """Pillow is imported in one place, as PyAV is in media/."""
    bad = [p for p in modules() if "PIL" in imports(p) and p.name != "photo.py"]
    assert not bad
