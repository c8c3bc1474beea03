"""Video fidelity (issue 30 item 5): a full-range picture stays full range (re-encoded and spliced GOPs alike), kept
audio stays interleaved with the video, and the inputs cameras make (VFR MP4, 10-bit, 4:2:2, MPEG-TS of unknown
length) come out with every frame at its time. Pictures without a face or plate: nothing is redacted, so the output
must show what the input shows."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from anonymizer.media.probe import probe
from anonymizer.media.reader import read_timestamps
from anonymizer.media.splice import SpliceWriter, copy_problem
from anonymizer.pipelines.anonymise import anonymise_file
from anonymizer.settings import AnonymiseSettings

JPEG = 2  # AVCOL_RANGE_JPEG: full range


def ramp_clip(path: Path, pix_fmt: str = "yuvj420p", color_range: int | None = None, n: int = 10, w: int = 256,
              h: int = 64, gop: int | None = None) -> Path:
    """Luma 0..255 left to right, neutral chroma, written as stored (no conversion on the way in)."""
    with av.open(str(path), "w") as out:
        options = {"crf": "10", "preset": "veryfast"}
        if gop:
            options.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
        s = out.add_stream("libx264", rate=25, options=options)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if color_range is not None:
            s.codec_context.color_range = color_range
        for i in range(n):
            f = av.VideoFrame(w, h, pix_fmt)
            for k, plane in enumerate(f.planes):
                a = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
                a[:] = 128
                if k == 0:
                    a[:, :w] = np.linspace(0, 255, w).round().astype(np.uint8)
            f.pts, f.time_base = i, Fraction(1, 25)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def rgb(path: Path) -> np.ndarray:
    """RGB as a player shows it (swscale honours each frame's colour range)."""
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(int)


def gop_ranges(path: Path) -> list[set[int]]:
    """The colour range each GOP decodes to on its own, with a fresh decoder (nothing carried over from the GOP
    before, as a player seeking into it): a re-encoded GOP must say what the copied ones say."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        gops: list[list[av.Packet]] = []
        for p in c.demux(vs):
            if p.size:
                if p.is_keyframe or not gops:
                    gops.append([])
                gops[-1].append(p)
        out = []
        for g in gops:
            dec = av.CodecContext.create("h264", "r")
            dec.extradata = vs.codec_context.extradata
            out.append({f.color_range for p in [*g, None] for f in dec.decode(p)})
        return out


@pytest.mark.parametrize("pix_fmt,color_range", [("yuvj420p", None), ("yuv420p", JPEG)])
def test_full_range_input_stays_full_range(tmp_path, detectors, pix_fmt, color_range):
    """Before: the output was tagged limited range with the full-range values copied, so the ramp's dark and
    bright ends clipped (luma 0 and 16 both black) and the middle shifted (mean error 9)."""
    src = ramp_clip(tmp_path / "cam.mp4", pix_fmt, color_range)
    dst = tmp_path / "out" / "cam.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(), detectors)
    assert report.frames == 10 and report.frames_with_regions == 0
    a, b = rgb(src), rgb(dst)
    assert np.abs(a - b).mean() < 2
    row = b[0, 32, :, 0]  # the ramp as shown, one value per luma step
    assert row[0] <= 4 and row[-1] >= 251
    assert row[16] - row[0] >= 10 and row[-1] - row[235] >= 10  # the ends are not clipped together
    with av.open(str(dst)) as c:
        assert next(c.decode(video=0)).color_range == JPEG


def test_a_spliced_full_range_output_agrees_in_range(tmp_path):
    """Copied GOPs keep the input's full-range headers: the re-encoded ones must say full range too (before, they
    said nothing, which a decoder reads as limited: one output, two ranges)."""
    src = ramp_clip(tmp_path / "cam.mp4", n=20, w=160, h=96, gop=5)
    assert copy_problem(src, tmp_path / "out.mp4") is None  # a full-range H.264 clip can be copied GOP by GOP

    def blacken(planes, box):
        planes[0][: box, : box] = 0

    w = SpliceWriter(src, tmp_path / "out.mp4", blacken)
    with av.open(str(src)) as c:
        for i, f in enumerate(c.decode(video=0)):
            w.add(i, f.pts, [8] if i == 7 else [])
    w.finish()
    w.publish()
    assert w.stats["copied_gops"] == 3 and w.stats["reencoded_frames"] == 5
    assert gop_ranges(tmp_path / "out.mp4") == [{JPEG}] * 4
    a, b = rgb(src), rgb(tmp_path / "out.mp4")
    assert np.abs(a - b)[:, 16:].mean() < 2  # outside the blackened corner


def av_clip(path: Path, seconds: float, rate: int = 4, w: int = 160, h: int = 96) -> Path:
    """Video and AAC audio muxed in time order, as a camera writes them."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "23"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = out.add_stream("aac", rate=48000, layout="mono")
        step = aus.codec_context.frame_size or 1024
        samples = int(48000 * seconds)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
        events = sorted([(i / rate, 0, i) for i in range(int(seconds * rate))]
                        + [(s / 48000, 1, s) for s in range(0, samples - step + 1, step)])
        for _, audio, k in events:
            if audio:
                af = av.AudioFrame.from_ndarray(tone[None, k:k + step], format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
                packets = aus.encode(af)
            else:
                vf = av.VideoFrame.from_ndarray(np.full((h, w, 3), (k * 7) % 200 + 20, np.uint8), format="rgb24")
                vf.pts, vf.time_base = k, Fraction(1, rate)
                packets = vs.encode(vf)
            for p in packets:
                out.mux(p)
        for p in [*vs.encode(None), *aus.encode(None)]:
            out.mux(p)
    return path


def worst_gap(path: Path) -> float:
    """In file order (byte position, what a player streaming the file reads), the largest time between a packet and
    the latest packet of the other stream before it."""
    with av.open(str(path)) as c:
        packets = sorted((p.pos, p.stream.type, float(p.dts * p.time_base))
                         for p in c.demux() if p.size and p.dts is not None)
    latest: dict[str, float] = {}
    worst = 0.0
    for _, kind, t in packets:
        worst = max([worst] + [abs(t - u) for k, u in latest.items() if k != kind])
        latest[kind] = t
    return worst


def test_kept_audio_stays_interleaved_with_the_video(tmp_path, detectors):
    """Before: the audio was muxed after the whole video; the muxer waits at most 10 s for the other stream, so
    beyond that the file held seconds of pictures before their sound (3 s here, the length past 10 s)."""
    src = av_clip(tmp_path / "cam.mp4", seconds=13)
    assert worst_gap(src) < 1.0
    dst = tmp_path / "out" / "cam.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(keep_audio=True), detectors)
    assert report.audio == "kept"
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert b.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for p in a.demux(audio=0) if p.size) == sum(1 for p in b.demux(audio=0) if p.size)
    assert worst_gap(dst) < 1.0


def coloured_clip(path: Path, pix_fmt: str, n: int = 10, fmt: str | None = None, pts: list[int] | None = None,
                  time_base: Fraction = Fraction(1, 25)) -> Path:
    """Gradients in x and y, a colour that changes with time; stored as ``pix_fmt`` (libx264 high10/high422)."""
    w, h = 160, 96
    yy, xx = np.mgrid[:h, :w]
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream("libx264", rate=25, options={"preset": "veryfast", "crf": "16"})
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        s.time_base = s.codec_context.time_base = time_base
        for i in range(n):
            rgb_ = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, (i * 20) % 255)], -1).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(rgb_, format="rgb24")
            f.pts, f.time_base = (pts[i] if pts else i), time_base
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv422p", "yuv422p10le"])
def test_10_bit_and_4_2_2_inputs_come_out_8_bit_4_2_0(tmp_path, detectors, pix_fmt):
    """Decided: the output is 8-bit 4:2:0 (yuv420p, what every player decodes; the redaction works on 8-bit
    planes). Frames, times and picture are kept; such an input is never GOP-copied (its GOPs would not match)."""
    src = coloured_clip(tmp_path / "cam.mkv", pix_fmt)
    with av.open(str(src)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == pix_fmt
    dst = tmp_path / "out" / "cam.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(copy_unchanged=True), detectors)
    assert not report.copy["used"] and "pixel format" in report.copy["reason"]
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    assert read_timestamps(dst) == pytest.approx(read_timestamps(src), abs=1e-4)
    a, b = rgb(src), rgb(dst)
    assert a.shape == b.shape and np.abs(a - b).mean() < 3


@pytest.mark.parametrize("copy", [False, True])
def test_variable_frame_rate_mp4_keeps_every_frame_time(tmp_path, detectors, copy):
    pts = [0, 40, 80, 200, 210, 220, 400, 433, 466, 1000, 1040]  # ms
    src = coloured_clip(tmp_path / "vfr.mp4", "yuv420p", n=len(pts), pts=pts, time_base=Fraction(1, 1000))
    dst = tmp_path / "out" / "vfr.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(copy_unchanged=copy), detectors)
    assert report.copy.get("used", False) is copy
    assert read_timestamps(dst) == pytest.approx([p / 1000 for p in pts], abs=1e-4)


def test_an_mpeg_ts_of_unknown_length_keeps_every_frame(tmp_path, detectors):
    """An MPEG-TS declares no frame count (a raw .h264 stream, with no duration either, is
    tests/test_residual_unknown_length.py): every frame is still written, at its time."""
    src = coloured_clip(tmp_path / "cam.ts", "yuv420p", n=14, fmt="mpegts")
    assert probe(src).frames == 0
    dst = tmp_path / "out" / "cam.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(), detectors)
    assert report.frames == 14 and report.verification["frames_match"]
    assert read_timestamps(dst) == pytest.approx(read_timestamps(src), abs=1e-4)
