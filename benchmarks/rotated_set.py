"""Rotated copies of a video set: every clip stored sideways with a display matrix, as phones write them.

A phone held upright records a portrait scene; the sensor stores the frames in its own (landscape) orientation and
the container's display matrix tells players how to turn them. This module makes such a copy of each video of a
set: the frames are **stored** rotated, and the display matrix turns them back, so the copy **displays** exactly
as the original. Convention (PyAV / FFmpeg): ``rotation`` is the counter-clockwise angle of the display matrix, the
value ``VideoFrame.rotation`` reads back and ``VideoStream.set_display_rotation`` writes; the displayed picture is
the stored one turned counter-clockwise by it (``np.rot90(stored, rotation // 90)``). ``--rotate 90`` therefore
stores each frame turned 90 degrees clockwise; ``--rotate 270`` stores it turned counter-clockwise (read back as
-90).

Ground truth is kept in display orientation (what an annotator sees, and what the harness scores), so the boxes
of the copy are those of the original; each row also gets ``attrs.stored_boxes``, the same boxes in the stored
frame's pixels (``display_to_stored``), for anyone scoring in stored orientation.

    python benchmarks/rotated_set.py ../shared/eval/faces_tld_video --rotate 90 [--out .bench/rotated/NAME]

Copies are re-encoded with libx264 CRF 12 (preset veryfast), timestamps kept; frame count checked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def quarter_turns(rotation: int) -> int:
    if rotation % 90:
        raise SystemExit(f"rotation {rotation}: only multiples of 90 degrees")
    return (rotation // 90) % 4


def display_to_stored(box: list[float], rotation: int, disp_w: int, disp_h: int) -> list[float]:
    """A box (x1, y1, x2, y2) in display pixels -> the same box in the pixels of the frame as stored, for a
    display matrix turning the stored frame ``rotation`` degrees counter-clockwise (display = np.rot90(stored, k))."""
    x1, y1, x2, y2 = box
    k = quarter_turns(rotation)
    # Undo np.rot90(., k) one quarter turn at a time: rot90 maps stored (x, y) in a w x h frame to display
    # (y, w - x) in an h x w frame, so display (x, y) came from stored (w_s - y, x) where w_s = the display height.
    w, h = disp_w, disp_h
    for _ in range(k):
        # current frame is w x h (display of this step); the previous one is h x w with width h.
        x1, y1, x2, y2 = h - y2, x1, h - y1, x2
        w, h = h, w
    return [float(x1), float(y1), float(x2), float(y2)]


def rotate_video(src: Path, dst: Path, rotation: int) -> int:
    """Write ``dst``: the frames of ``src`` (as displayed) stored turned clockwise by ``rotation`` and a display
    matrix of ``rotation`` (counter-clockwise), timestamps kept. Returns the number of frames."""
    return reencode_video(src, dst, rotation=rotation)


def reencode_video(src: Path, dst: Path, rotation: int = 0,
                   transform: Callable[[np.ndarray], np.ndarray] | None = None, crf: int = 12) -> int:
    """Write ``dst``: the frames of ``src`` as displayed, each passed through ``transform`` (RGB in, RGB out) when
    given, stored turned clockwise by ``rotation`` with a display matrix of ``rotation`` (none for 0), libx264 at
    ``crf``, timestamps kept; written to a temporary name, read back (same frame count), then renamed. Returns the
    number of frames."""
    import av

    k = quarter_turns(rotation)
    tmp = dst.with_name(dst.name + ".partial.mp4")
    frames = 0
    with av.open(str(src)) as inp, av.open(str(tmp), mode="w") as out:
        ins = inp.streams.video[0]
        ins.thread_type = "AUTO"
        rate = ins.average_rate or Fraction(25)
        time_base = ins.time_base or Fraction(1, 90000)
        vs = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"})
        vs.pix_fmt = "yuv420p"
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        if rotation:
            vs.set_display_rotation(rotation)
        last_pts = None
        for frame in inp.decode(ins):
            shown = np.rot90(frame.to_ndarray(format="rgb24"), quarter_turns(int(frame.rotation or 0)))
            if transform is not None:
                shown = transform(shown)
            stored = np.ascontiguousarray(np.rot90(shown, -k))
            if frames == 0:
                vs.height, vs.width = stored.shape[:2]
            new = av.VideoFrame.from_ndarray(stored, format="rgb24")
            pts = frame.pts if frame.pts is not None else frames
            if last_pts is not None and pts <= last_pts:
                pts = last_pts + 1
            new.pts, new.time_base = pts, time_base
            last_pts = pts
            for packet in vs.encode(new):
                out.mux(packet)
            frames += 1
        for packet in vs.encode(None):
            out.mux(packet)
    with av.open(str(tmp)) as check:
        got = sum(1 for _ in check.decode(video=0))
    if got != frames:
        tmp.unlink()
        raise SystemExit(f"{dst}: wrote {frames} frames, read back {got}")
    os.replace(tmp, dst)
    return frames


def copy_set(src_set: Path, out: Path, encode: Callable[[Path, Path], object],
             new_row: Callable[[dict, int, int], dict], what: str) -> Path:
    """A copy of the video rows of ``src_set`` (folder or annotations.json) in ``out``: each video re-encoded by
    ``encode(src, dst)``, each row rewritten by ``new_row(row, display width, display height)`` (its ``video`` is set
    here). Reused when already complete (its annotations.json is written last)."""
    import av

    ann = src_set / "annotations.json" if src_set.is_dir() else src_set
    rows = json.loads(ann.read_text())
    if (out / "annotations.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    videos = sorted({r["video"] for r in rows if "video" in r})
    if not videos:
        raise SystemExit(f"{ann}: no video rows to copy")
    sizes = {}
    for video in videos:
        dst = out / (Path(video).with_suffix("").as_posix().replace("/", "_") + ".mp4")
        print(f"# {what} {video} -> {dst}", file=sys.stderr)
        encode(ann.parent / video, dst)
        with av.open(str(ann.parent / video)) as c:
            f = next(c.decode(video=0))
            k = quarter_turns(int(f.rotation or 0))
            sizes[video] = (dst.name, (f.height, f.width) if k % 2 else (f.width, f.height))
    new_rows = []
    for r in rows:
        if "video" in r:
            file, (dw, dh) = sizes[r["video"]]
            new_rows.append({**new_row(r, dw, dh), "video": file})
    tmp = out / "annotations.json.partial"
    tmp.write_text(json.dumps(new_rows) + "\n")
    os.replace(tmp, out / "annotations.json")
    return out


def _with_attrs(row: dict, **attrs) -> dict:
    return {**row, "attrs": {**(row.get("attrs") or {}), "source_video": row["video"], **attrs}}


def make_rotated_set(src_set: Path, rotation: int, out: Path | None = None) -> Path:
    """A copy of the video rows of ``src_set`` (folder or annotations.json) stored rotated; returns its folder."""
    name = (src_set if src_set.is_dir() else src_set.parent).name
    return copy_set(
        src_set, out or REPO / ".bench" / "rotated" / f"{name}_rot{rotation % 360}",
        lambda src, dst: rotate_video(src, dst, rotation),
        lambda r, dw, dh: _with_attrs(r, rotation=rotation,
                                      stored_boxes=[display_to_stored(b, rotation, dw, dh) for b in r["boxes"]]),
        f"rotating by {rotation}:")


def turned_box(box: list[float], disp_w: int, disp_h: int) -> list[float]:
    """A box of a ``disp_w`` x ``disp_h`` picture after the picture is turned 180 degrees."""
    x1, y1, x2, y2 = box
    return [float(disp_w - x2), float(disp_h - y2), float(disp_w - x1), float(disp_h - y1)]


def make_upside_down_set(src_set: Path, by: str, out: Path | None = None) -> Path:
    """A copy of the video rows of ``src_set`` that is **shown** upside down, as from a camera mounted upside down:
    ``by="stored"`` stores the frames turned 180 degrees with no display matrix; ``by="matrix"`` stores them as they
    were, with a display matrix of 180 degrees. The boxes are turned with the picture (display orientation)."""
    if by not in ("stored", "matrix"):
        raise SystemExit(f"upside down by {by!r}: 'stored' or 'matrix'")
    name = (src_set if src_set.is_dir() else src_set.parent).name
    return copy_set(
        src_set, out or REPO / ".bench" / "rotated" / f"{name}_upside_down_{by}",
        lambda src, dst: reencode_video(src, dst, rotation=180 if by == "matrix" else 0,
                                        transform=lambda rgb: np.ascontiguousarray(rgb[::-1, ::-1])),
        lambda r, dw, dh: _with_attrs({**r, **{key: [turned_box(b, dw, dh) for b in r[key]]
                                               for key in ("boxes", "ignore") if key in r}}, upside_down=by),
        f"turning upside down ({by}):")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set", type=Path, help="a set folder or its annotations.json (its video rows are copied)")
    ap.add_argument("--rotate", type=int, required=True, choices=(90, 180, 270),
                    help="display-matrix rotation, counter-clockwise degrees (frames stored turned the other way)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default .bench/rotated/<set>_rot<N>)")
    ap.add_argument("--force", action="store_true", help="rebuild even if the copy exists")
    args = ap.parse_args(argv)
    name = (args.set if args.set.is_dir() else args.set.parent).name
    out = args.out or REPO / ".bench" / "rotated" / f"{name}_rot{args.rotate}"
    if args.force and out.exists():
        shutil.rmtree(out)
    print(make_rotated_set(args.set, args.rotate, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
