"""Re-encode only what changed (issue 10): GOPs without a redaction are the input's packets, copied; the others are
decoded, redacted and encoded again. Fidelity: frame count, timestamps, copied frames pixel-identical, the redacted
GOPs redacted, no SEI carried over; inputs unfit to copy are refused or re-encoded whole."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from anonymizer.media.splice import (NAL_SEI, SpliceWriter, _annexb_to_lengths, _avcc, _nal_units, _strip_sei,
                                     copy_problem)


def write_clip(path: Path, frames: list[np.ndarray], gop: int, x264_params: str = "", codec: str = "libx264",
               rate: Fraction = Fraction(25), bframes: int = 3) -> Path:
    """RGB frames encoded with a keyframe every ``gop`` frames (closed GOPs unless ``x264_params`` says)."""
    with av.open(str(path), mode="w") as out:
        options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        if codec == "libx264":
            options.update({"crf": "18", "preset": "veryfast", "bframes": str(bframes)})
            if x264_params:
                options["x264-params"] = x264_params
        vs = out.add_stream(codec, rate=rate, options=options)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            f.time_base = Fraction(1, int(rate))
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    return path


def moving_frames(n: int, w: int = 160, h: int = 96) -> list[np.ndarray]:
    yy, xx = np.mgrid[:h, :w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 127 // (w + h) + 64], axis=-1).astype(np.uint8)
    out = []
    for i in range(n):
        f = base.copy()
        f[20:50, (3 * i) % (w - 30) : (3 * i) % (w - 30) + 30] = (240, 200, 40)
        out.append(f)
    return out


def decode(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        return [(round(float(f.pts * f.time_base), 6), f.to_ndarray(format="yuv420p")) for f in c.decode(video=0)]


def decoded_pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)]


def blacken(planes, box) -> None:
    x1, y1, x2, y2 = box
    planes[0][y1:y2, x1:x2] = 16


def splice(src: Path, dst: Path, redact: dict[int, list]) -> SpliceWriter:
    w = SpliceWriter(src, dst, blacken)
    for i, pts in enumerate(decoded_pts(src)):
        w.add(i, pts, redact.get(i, []))
    w.finish()
    w.publish()
    return w


def test_nal_helpers():
    annexb = b"\x00\x00\x00\x01\x67\x64\x1f" + b"\x00\x00\x01\x68\xee" + b"\x00\x00\x00\x01\x65\x88\x84"
    avcc = _annexb_to_lengths(annexb, 4)
    assert avcc == b"\x00\x00\x00\x03\x67\x64\x1f" + b"\x00\x00\x00\x02\x68\xee" + b"\x00\x00\x00\x03\x65\x88\x84"
    assert [avcc[s] & 31 for s, _ in _nal_units(avcc, 4)] == [7, 8, 5]
    with_sei = b"\x00\x00\x00\x02\x06\x05" + avcc
    assert _strip_sei(with_sei, 4) == avcc
    assert _strip_sei(avcc, 4) is None
    with pytest.raises(Exception):
        _nal_units(b"\x00\x00\x00\x09\x65", 4)


def test_copied_gops_are_identical_and_the_redacted_gop_is_redacted(tmp_path):
    frames = moving_frames(60)
    src = write_clip(tmp_path / "in.mp4", frames, gop=12)
    assert copy_problem(src, tmp_path / "out.mp4") is None
    dst = tmp_path / "out.mp4"
    redact = {i: [(10, 10, 90, 70)] for i in range(26, 31)}  # inside the third GOP (frames 24-35)
    w = splice(src, dst, redact)
    assert w.stats == {"gops": 5, "copied_gops": 4, "copied_frames": 48, "reencoded_frames": 12}
    a, b = decode(src), decode(dst)
    assert len(a) == len(b) == 60
    assert [t for t, _ in a] == [t for t, _ in b]
    for i, ((_, fa), (_, fb)) in enumerate(zip(a, b)):
        if 24 <= i < 36:
            if i in redact:
                assert np.abs(fb[10:70, 10:90].astype(int) - 16).mean() < 3  # redacted
            else:
                assert np.abs(fa.astype(int) - fb.astype(int)).mean() < 3  # re-encoded, close
        else:
            assert np.array_equal(fa, fb), i  # copied: pixel-identical
    # The copied packets carry no SEI (the input's first packet has x264's).
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        size = _avcc(vs.codec_context.extradata)[0]
        first_in = bytes(next(p for p in c.demux(vs) if p.size))
    with av.open(str(dst)) as c:
        first_out = bytes(next(p for p in c.demux(c.streams.video[0]) if p.size))
    assert NAL_SEI in [first_in[s] & 31 for s, _ in _nal_units(first_in, size)]
    assert NAL_SEI not in [first_out[s] & 31 for s, _ in _nal_units(first_out, size)]


def test_no_redaction_copies_everything_and_every_gop_redacted_reencodes_everything(tmp_path):
    frames = moving_frames(36)
    src = write_clip(tmp_path / "in.mp4", frames, gop=12)
    w = splice(src, tmp_path / "copy.mp4", {})
    assert w.stats["copied_frames"] == 36
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(decode(src), decode(tmp_path / "copy.mp4")))
    w = splice(src, tmp_path / "all.mp4", {0: [(0, 0, 8, 8)], 12: [(0, 0, 8, 8)], 35: [(0, 0, 8, 8)]})
    assert w.stats["copied_frames"] == 0 and w.stats["reencoded_frames"] == 36
    assert [t for t, _ in decode(src)] == [t for t, _ in decode(tmp_path / "all.mp4")]


def test_inputs_without_reordering_keep_no_delay(tmp_path):
    src = write_clip(tmp_path / "in.mp4", moving_frames(30), gop=10, bframes=0)
    splice(src, tmp_path / "out.mp4", {12: [(0, 0, 40, 40)]})
    a, b = decode(src), decode(tmp_path / "out.mp4")
    assert [t for t, _ in a] == [t for t, _ in b]
    assert all(np.array_equal(x, y) for i, ((_, x), (_, y)) in enumerate(zip(a, b)) if not 10 <= i < 20)


def test_unfit_inputs_are_refused(tmp_path):
    frames = moving_frames(30)
    open_gop = write_clip(tmp_path / "open.mp4", frames, gop=10, x264_params="open-gop=1")
    assert "open GOP" in (copy_problem(open_gop, tmp_path / "o.mp4") or "")
    mpeg4 = write_clip(tmp_path / "m.mp4", frames, gop=10, codec="mpeg4")
    assert "codec mpeg4" in (copy_problem(mpeg4, tmp_path / "o.mp4") or "")
    closed = write_clip(tmp_path / "closed.mp4", frames, gop=10)
    assert "container .avi" in (copy_problem(closed, tmp_path / "o.avi") or "")
    assert copy_problem(closed, tmp_path / "o.mkv") is None
    avi = write_clip(tmp_path / "in.avi", frames, gop=10)
    assert "input container avi" in (copy_problem(avi, tmp_path / "o.mp4") or "")


def test_a_pts_mismatch_falls_back_and_a_redacted_pts_is_never_copied(tmp_path):
    """Frames are matched to GOPs by their place in output order and checked by pts: a frame that decodes with
    another pts than the loop saw stops the copy (full re-encode), and a GOP holding a redacted pts is re-encoded
    even if the places said otherwise."""
    src = write_clip(tmp_path / "in.mp4", moving_frames(30), gop=10)
    pts = decoded_pts(src)
    w = SpliceWriter(src, tmp_path / "a.mp4", blacken)
    for i, p in enumerate(pts):
        w.add(i, p + 1 if i == 12 else p, [(0, 0, 40, 40)] if i == 12 else [])
    w.finish()
    assert "another pts" in w.stats["fallback"]
    w = SpliceWriter(src, tmp_path / "b.mp4", blacken)
    for i, p in enumerate(pts):
        w.add(i, p, [])
    w.redacted_pts.add(pts[25])  # as if frame 25 were redacted under another index
    w.finish()
    assert w.stats["copied_gops"] == 2 and w.stats["reencoded_frames"] == 10


def test_a_frame_count_mismatch_falls_back_to_a_full_reencode(tmp_path):
    src = write_clip(tmp_path / "in.mp4", moving_frames(30), gop=10)
    w = SpliceWriter(src, tmp_path / "out.mp4", blacken)
    for i, pts in enumerate(decoded_pts(src)[:29]):  # one frame fewer than the input's packets
        w.add(i, pts, [(0, 0, 40, 40)] if i == 3 else [])
    w.finish()
    assert "29 decoded frames" in w.stats["fallback"]
    w.publish()
    assert len(decode(tmp_path / "out.mp4")) == 30


def test_the_display_matrix_is_kept(tmp_path):
    from anonymizer.media.synth import write_video

    src = write_video(tmp_path / "phone.mp4", moving_frames(20), rotation=90, gop=10)
    w = splice(src, tmp_path / "out.mp4", {3: [(0, 0, 20, 20)]})
    assert w.stats["copied_gops"] == 1
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert {int(f.rotation) for f in c.decode(video=0)} == {90}
