"""Pseudo-labels for platenet's training: plates that the fetched detectors find on real footage whose licence
allows training, looking as hard as they can (platedet enlarged 2x, clpdet enlarged 3x, both at the own size).

A box scoring at least ``SURE`` is a plate to learn; the others found (down to ``LOW``) are neither plate nor
background: the loss ignores them, so that a plate the teacher half-saw is not taught as background.

    python -m anonymizer.training.teacher CLIP --every 2 --out models/cache/teacher-NAME.json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import nms

log = logging.getLogger(__name__)
SURE = 0.5
LOW = 0.1


def label_frame(union, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """(plates, ignored) boxes of one RGB frame, in its pixels."""
    from anonymizer.inference.pictures import fine_tile

    h, w = rgb.shape[:2]
    runs = [union.primary.detect_native(rgb), union.second.detect_native(rgb),
            union.primary.detect_enlarged(rgb, 2.0, fine_tile(w, h)),
            union.second.detect_enlarged(rgb, 3.0, LOW, fine_tile(w, h, int(1280 * 736 * (2 / 3) ** 2)))]
    found = Detections.empty()
    for r in runs:
        found = found.concat(r)
    found = found[found.scores >= LOW]
    if len(found) > 1:
        found = found[nms(found.xyxy, found.scores, 0.4)]
    sure = found.scores >= SURE
    return found.xyxy[sure], found.xyxy[~sure]


def main(argv: list[str] | None = None) -> int:
    from anonymizer.media.reader import rgb_frames
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    union = open_detectors(AnonymiseSettings().with_(plate_fine="platedet"), threads=1)["plate"].detector
    union.primary.threshold = LOW
    union.second.threshold = LOW
    rows = []
    for index, rgb in rgb_frames(args.clip, lambda i: i % args.every == 0):
        plates, ignored = label_frame(union, rgb)
        rows.append({"frame": index, "plates": plates.round(1).tolist(), "ignore": ignored.round(1).tolist()})
        log.info("frame %d: %d plates, %d ignored", index, len(plates), len(ignored))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clip": args.clip.name, "sure": SURE, "low": LOW, "frames": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
