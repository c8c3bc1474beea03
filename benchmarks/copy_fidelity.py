"""--copy-unchanged fidelity on real clips: copy every GOP of each clip but one (a black square on the first frame
of its middle GOP, or on its middle frame when it has one GOP), then decode input and output and compare.

    python benchmarks/copy_fidelity.py CLIP [CLIP...]

Prints per clip: why it cannot be copied (or None), keyframes, the splice's counts, frames in and out, whether every
timestamp is equal, how many frames are pixel-identical (every copied frame should be) and whether the redacted
frame is redacted. Outputs go to .bench/copy_fidelity/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np

from anonymizer.media.splice import SpliceWriter, copy_problem

OUT = Path(__file__).resolve().parent.parent / ".bench" / "copy_fidelity"


def blacken(planes: list[np.ndarray], box: tuple[int, int, int, int]) -> None:
    x1, y1, x2, y2 = box
    planes[0][y1:y2, x1:x2] = 16


def decoded(path: Path) -> list[tuple[object, np.ndarray]]:
    with av.open(str(path)) as c:
        return [(f.pts * f.time_base, f.to_ndarray(format="yuv420p")) for f in c.decode(video=0)]


def check(src: Path) -> dict:
    dst = OUT / f"{src.stem}_copy.mp4"
    problem = copy_problem(src, dst)
    if problem:
        return {"clip": src.name, "problem": problem}
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        keys = [i for i, p in enumerate(q for q in c.demux(vs) if q.size) if p.is_keyframe]
    a = decoded(src)
    target = keys[len(keys) // 2] if len(keys) > 1 else len(a) // 2
    with av.open(str(src)) as c:
        pts = [f.pts for f in c.decode(video=0)]
    w = SpliceWriter(src, dst, blacken)
    for i, p in enumerate(pts):
        w.add(i, p, [(0, 0, 64, 64)] if i == target else [])
    w.finish()
    w.publish()
    b = decoded(dst)
    return {"clip": src.name, "problem": None, "keyframes": len(keys), "splice": w.stats, "frames_in": len(a),
            "frames_out": len(b), "timestamps_equal": len(a) == len(b) and all(x[0] == y[0] for x, y in zip(a, b)),
            "identical_frames": sum(np.array_equal(x[1], y[1]) for x, y in zip(a, b)),
            "redacted": bool(np.abs(b[target][1][:64, :64].astype(int) - 16).mean() < 2)}


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in argv:
        print(check(Path(name)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
