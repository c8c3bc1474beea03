"""A hostile batch through ``run`` (issue 9): 30+ bad files (truncated, empty, text, a JPEG named .mp4, no frames,
a huge header, bad sidecars, symlinks, repeated timestamps, odd names) among good clips (one of an odd frame
size, names with a newline and unicode): no traceback, one line per bad file naming it and saying why, and
every good clip anonymised."""

import io
import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from skimage import data

from anonymizer.imaging.scene import scene_frames
from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_run import setup_archive

pytestmark = pytest.mark.slow
T0 = "2024-06-01T12:00:00Z"


def odd_clip(path: Path, w: int = 319, h: int = 239) -> Path:
    """A lossless clip of an odd frame size (x264 4:2:0 cannot write one; FFV1 can)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for frame, _ in scene_frames(w, h, 4):
            for pk in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(pk)
        for pk in s.encode(None):
            c.mux(pk)
    path.with_name(path.name + ".json").write_text(json.dumps({"start": T0}))
    return path


def same_timestamps(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        s.codec_context.time_base = Fraction(1, 25)
        frames = [av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * 20, np.uint8), format="rgb24")
                  for i in range(10)]
        for f in frames + [None]:
            for p in s.encode(f):
                p.pts = p.dts = 0
                c.mux(p)
    return path


def no_frames(path: Path) -> Path:
    """A container with a video stream and no frame in it (a recorder that stopped at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        c.start_encoding()
    assert path.exists()
    return path


def hostile_batch(root: Path) -> tuple[Path, list[str], list[str]]:
    b = root / "batch"
    door = b / "door"
    good = []

    def ok(name: str, seed: int, **kw) -> None:
        tiny_clip(door / name, seed, n=4, size=(320, 240), metadata={"creation_time": T0}, **kw)
        good.append(name)

    ok("good1.mp4", 1)
    ok("line\nbreak.mp4", 2)
    ok("ünïcødé 🎥 clip.mp4", 3)
    ok("UPPER.MP4", 4)
    ok("spaces and 'quotes'.mov", 5)
    odd_clip(door / "odd size.mkv")
    good.append("odd size.mkv")

    bad = []

    def put(name: str, content: bytes) -> None:
        (door / name).write_bytes(content)
        bad.append(name)

    whole = (door / "good1.mp4").read_bytes()
    put("truncated.mp4", whole[: len(whole) // 3])
    put("truncated-tail.mp4", whole[len(whole) // 2:])
    put("empty.mp4", b"")
    put("one-byte.mp4", b"\0")
    put("text.mp4", b"this is a text file, not a video\n" * 50)
    put("html.mp4", b"<html><body>404 not found</body></html>")
    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG")
    put("photo.mp4", buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(data.camera()).save(buf, format="PNG")
    put("picture.avi", buf.getvalue())
    put("huge-header.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\xff\xff\xff\xffmoov" + b"\0" * 64)
    put("random.mkv", np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    put("zeros.ts", b"\0" * 100_000)
    no_frames(door / "no-frames.mp4")
    bad.append("no-frames.mp4")
    same_timestamps(door / "frozen-clock.mp4")
    bad.append("frozen-clock.mp4")
    # audio only: a container without video
    with av.open(str(door / "audio-only.mp4"), "w") as c:
        a = c.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for f in (frame, None):
            for p in a.encode(f):
                c.mux(p)
    bad.append("audio-only.mp4")
    # bad sidecars on real clips
    sidecars = {"sidecar-not-json.mp4": "{not json", "sidecar-naive.mp4": '{"start": "2024-06-01T12:00:00"}',
                "sidecar-future.mp4": '{"start": "2099-01-01T00:00:00Z"}',
                "sidecar-camera.mp4": '{"start": "2024-06-01T12:00:00Z", "camera": "nosuch"}',
                "sidecar-extra.mp4": '{"start": "2024-06-01T12:00:00Z", "evil": true}',
                "sidecar-list.mp4": "[1, 2, 3]", "sidecar-binary.mp4": "\udcff"}
    for i, (name, text) in enumerate(sidecars.items()):
        tiny_clip(door / name, 100 + i, n=2)
        (door / (name + ".json")).write_bytes(text.encode("utf-8", "surrogateescape"))
        bad.append(name)
    # symlinks: out of the batch, dangling, a loop
    outside = root / "elsewhere" / "private.mp4"
    tiny_clip(outside, 200, n=2, metadata={"creation_time": T0})
    os.symlink(outside, door / "link-out.mp4")
    os.symlink(root / "nothing.mp4", door / "link-dangling.mp4")
    os.symlink(door / "loop-b.mp4", door / "loop-a.mp4")
    os.symlink(door / "loop-a.mp4", door / "loop-b.mp4")
    bad += ["link-out.mp4", "link-dangling.mp4", "loop-a.mp4", "loop-b.mp4"]
    # a duplicate of a good clip (walked after it: names in sorted order), and a file of no camera
    (door / "zz-copy-of-good1.mp4").write_bytes(whole)
    bad.append("zz-copy-of-good1.mp4")
    tiny_clip(b / "nocamera" / "orphan.mp4", 300, n=2, metadata={"creation_time": T0})
    bad.append("orphan.mp4")
    put("notes.txt", b"not a video")
    put("README", b"not a video")
    return b, good, bad


def test_hostile_batch_through_run(tmp_path: Path, backend, models_ready):
    cfg = setup_archive(tmp_path, backend=backend)
    batch, good, bad = hostile_batch(tmp_path)
    assert len(good) + len(bad) >= 30 and len(bad) >= 24
    r = invoke("run", str(batch), "-c", cfg, "-j", "1", "--face-stride", "1", "--plate-stride", "1")
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    assert r.exit_code == 3, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    for name in bad:  # each bad file named in one error line of its own, with a fix
        first = name.split("\n")[0]
        mine = [line for line in errors if first in line]
        assert mine, (name, r.stderr)
    assert all("fix:" in line or "duplicate" in line for line in errors), errors
    clips = rows(tmp_path / "archive")
    copies = [c for c in clips if c.state == "anonymised"]
    raws = {c.id: c for c in clips if c.derived_from is None}
    done = sorted(Path(raws[c.derived_from].imported_from).name for c in copies)
    assert done == sorted(good)  # every good clip, odd size and odd names included, anonymised
    odd = next(c for c in copies if Path(raws[c.derived_from].imported_from).name == "odd size.mkv")
    assert (odd.width, odd.height) == (320, 240)  # padded by one column and one row, not refused
