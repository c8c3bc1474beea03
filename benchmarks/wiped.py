"""Over-redaction on any clip, without ground truth: the share of the input's textured 16x16 blocks whose texture is
gone in the output.

A block is **textured** when the standard deviation of its luma in the input is above ``TEXTURED`` (grey levels of
255); it is **gone** when the output's is under ``GONE`` (0.35) of the input's. Per frame: gone / textured (0 for a
frame with no textured block); reported as the mean over frames and the worst frame. Two outputs are measured
against the same input: the product's (``anonymise_file``, default settings unless overridden, run here into a
temporary folder) and a plain re-encode at the product's CRF (the control: should be about 0). Frames are compared
in display orientation. With ``--frames`` the input is first cut: the cut ``throughput.py`` makes and measures
(libx264 CRF 16, kept in .bench/clips/).

    python benchmarks/wiped.py ../shared/eval/clips/traffic_mihailrc.mp4 --frames 150 [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from bench_source import describe, maybe_reexec
from throughput import cut_clip

BLOCK = 16
TEXTURED = 6.0  # luma standard deviation above which an input block has texture to lose
GONE = 0.35  # an output block keeping less than this share of the input's standard deviation lost its texture


def block_std(luma: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(rows, cols) luma standard deviation of each whole ``block`` x ``block`` block (a partial edge is left out)."""
    h, w = luma.shape[0] // block * block, luma.shape[1] // block * block
    cells = luma[:h, :w].astype(np.float32).reshape(h // block, block, w // block, block)
    return cells.std(axis=(1, 3))


def wiped_blocks(before: np.ndarray, after: np.ndarray, block: int = BLOCK, textured: float = TEXTURED,
                 gone: float = GONE) -> tuple[int, int]:
    """(textured blocks of ``before``, those of them whose texture is gone in ``after``): two luma planes of one
    frame, same size and orientation."""
    if before.shape != after.shape:
        raise ValueError(f"frame sizes differ: {before.shape} vs {after.shape}")
    a, b = block_std(before, block), block_std(after, block)
    has = a > textured
    return int(has.sum()), int((has & (b < gone * a)).sum())


@dataclass
class Wiped:
    """Per-frame wiped shares as they come, summed up as mean and worst frame."""

    frames: int = 0
    total: float = 0.0
    worst: float = 0.0
    worst_frame: int = 0
    textured_blocks: int = 0
    gone_blocks: int = 0

    def add(self, index: int, textured: int, gone: int) -> None:
        share = gone / textured if textured else 0.0
        self.frames += 1
        self.total += share
        self.textured_blocks += textured
        self.gone_blocks += gone
        if share > self.worst:
            self.worst, self.worst_frame = share, index

    def figures(self) -> dict:
        return {"frames": self.frames, "mean": round(self.total / self.frames, 4) if self.frames else None,
                "worst": round(self.worst, 4), "worst_frame": self.worst_frame,
                "textured_blocks": self.textured_blocks, "gone_blocks": self.gone_blocks}


def _luma_frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame's luma as displayed (the display matrix applied)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            k = (int(round(int(frame.rotation or 0) / 90)) % 4) if getattr(frame, "rotation", 0) else 0
            luma = frame.to_ndarray(format="gray")
            yield np.rot90(luma, k) if k else luma


def measure(before: Path, after: Path) -> dict:
    """``Wiped`` figures of ``after`` against ``before``, frame by frame (the shorter decides)."""
    tally = Wiped()
    for i, (a, b) in enumerate(zip(_luma_frames(before), _luma_frames(after))):
        tally.add(i, *wiped_blocks(a, b))
    return tally.figures()


def reencode(src: Path, dst: Path, crf: int, preset: str = "veryfast") -> int:
    """``src`` re-encoded with libx264 at ``crf``, stored as it was (any display matrix kept), timestamps kept.
    Returns the frames written."""
    import av

    n = 0
    with av.open(str(src)) as inp, av.open(str(dst), mode="w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": preset})
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        time_base = vin.time_base or Fraction(1, 90000)
        vout.time_base = vout.codec_context.time_base = time_base
        last = None
        for frame in inp.decode(vin):
            if n == 0 and getattr(frame, "rotation", 0):
                vout.set_display_rotation(int(frame.rotation))
            pts = frame.pts if frame.pts is not None else n
            if last is not None and pts <= last:
                pts = last + 1
            new = frame.reformat(format="yuv420p")
            new.pts, new.time_base, last = pts, time_base, pts
            new.pict_type = av.video.frame.PictureType.NONE
            for packet in vout.encode(new):
                out.mux(packet)
            n += 1
        for packet in vout.encode(None):
            out.mux(packet)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path, help="any video file")
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames (a cut, made first)")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads (default 2)")
    ap.add_argument("--ref", default=None, help="measure this committed revision instead of the working tree")
    ap.add_argument("--json", action="store_true", help="JSON on stdout instead of the lines")
    for name, typ in (("plate_fine", str), ("small_objects", str), ("carry_frames", int), ("face_stride", int),
                      ("plate_stride", int), ("residual_samples", int), ("device", str)):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None,
                        help=f"override the anonymiser's {name}")
    args = ap.parse_args(argv)
    maybe_reexec()
    from anonymizer.pipelines.anonymise import anonymise_file
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    if not args.clip.is_file():
        ap.error(f"{args.clip}: no such file")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = AnonymiseSettings().with_(**{k: getattr(args, k) for k in (
        "plate_fine", "small_objects", "carry_frames", "face_stride", "plate_stride", "residual_samples", "device")})
    with tempfile.TemporaryDirectory(prefix="wiped-") as tmp_name:
        tmp = Path(tmp_name)
        src = cut_clip(args.clip, args.frames) if args.frames else args.clip  # the cut throughput.py measures
        detectors = open_detectors(settings, threads=args.threads)
        cpu, wall = time.process_time(), time.perf_counter()
        report = anonymise_file(src, tmp / "out" / "clip.mp4", settings, detectors, overwrite=True,
                                out_root=tmp / "out")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        control = tmp / "control.mp4"
        reencode(src, control, crf=settings.crf, preset=settings.preset)
        result = {
            "clip": str(args.clip), "frames_cut": args.frames, "anonymizer": describe(), "settings": asdict(settings),
            "product": measure(src, Path(report.output)), "control_reencode": measure(src, control),
            "report_redacted_share": report.redacted_share, "status": report.status, "passes": report.passes,
            "camera": report.camera, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
            "residual_findings": report.residual.get("first_pass_findings", []),
            "threshold": {"block": BLOCK, "textured_std": TEXTURED, "gone_below": GONE},
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    p, c, r = result["product"], result["control_reencode"], result["report_redacted_share"]
    print(f"anonymizer: {result['anonymizer']['source']}")
    print(f"{args.clip.name}: {p['frames']} frames{f' (first {args.frames})' if args.frames else ''}, "
          f"status {result['status']}, passes {result['passes']}, camera moved on "
          f"{result['camera'].get('moved_frames')} frames")
    print(f"  wiped textured blocks, product:  mean {p['mean']:.3f}  worst {p['worst']:.3f} (frame {p['worst_frame']})")
    print(f"  wiped textured blocks, re-encode: mean {c['mean']:.3f}  worst {c['worst']:.3f} (frame {c['worst_frame']})")
    if r:
        print(f"  report redacted_share: mean {r['mean']:.3f}  worst {r['worst']:.3f} (frame {r['worst_frame']})")
    print(f"  product: {result['cpu_s']} CPU s, {result['wall_s']} s wall")
    print(f"block {BLOCK} px textured when luma std > {TEXTURED}; gone when the output keeps < {GONE} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
