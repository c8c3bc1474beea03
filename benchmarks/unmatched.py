"""Look at what the precision figure counts as false positives: the detections of a photo set that match no
ground-truth box, cut out with their surroundings into one contact sheet, for a person to judge.

Precision on a set that does not annotate every object (``plates_romania_eu`` annotates the plates a rider could
read, not the distant ones) is a lower bound: a real plate that nobody annotated counts as a false positive. This
tool shows which it is. It runs what the quality harness runs on image rows (``regions_for_image``, default
settings), keeps the detections of the row's kind with IoU < 0.5 to every ground-truth box and not on an ignore
box (the harness's own matching), and writes:

- ``OUT.png``: up to ``--max`` cut-outs (3x the detection's width around it, at least 120 px, scaled to 160 px),
  each labelled with its running number, score and width in pixels;
- ``OUT.json``: for every unmatched detection, its image, box, score, number and ``what``, so that a person's
  verdict ("plate" or "not a plate" per number) can be recorded beside it.

``what`` sorts them as the harness's greedy matching sees them: ``duplicate`` (IoU >= 0.5 with an annotated box
that a better detection already matched: one object found twice), ``loose`` (IoU 0.2-0.5 with an annotated box: a
part of it, or a box much larger) and ``elsewhere`` (what a person has to judge). The counts are printed.

    python benchmarks/unmatched.py /work/shared/eval/plates_romania_eu --out .bench/unmatched_romania
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from bench_source import maybe_reexec

maybe_reexec()

import quality  # noqa: E402
from anonymizer.pipelines.anonymise import regions_for_image  # noqa: E402
from anonymizer.pipelines.batch import open_detectors  # noqa: E402
from anonymizer.settings import AnonymiseSettings  # noqa: E402

TILE = 160
LOOSE_IOU = 0.2


def unmatched(root: Path, rows: list[quality.Row], settings: AnonymiseSettings, detectors: dict) -> list[dict]:
    by_image: dict[str, list[quality.Row]] = defaultdict(list)
    for row in rows:
        if row.image is not None:
            by_image[row.image].append(row)
    out: list[dict] = []
    for image, image_rows in by_image.items():
        rgb = quality._read_rgb(root / image)  # noqa: SLF001
        _regions, found = regions_for_image(rgb, settings, detectors)
        for row in image_rows:
            dets = found.get(row.kind)
            if dets is None or len(dets) == 0:
                continue
            for box, score, what in classify(dets.xyxy, dets.scores, row.boxes, row.ignore):
                out.append({"n": len(out) + 1, "image": image, "kind": row.kind, "what": what,
                            "box": [round(float(v), 1) for v in box], "score": round(float(score), 3)})
    return out


def classify(xyxy: np.ndarray, scores: np.ndarray, gt: np.ndarray, ignore: np.ndarray) -> list[tuple]:
    """(box, score, what) of the detections the harness's greedy matching (``quality.greedy_match``) leaves unmatched
    and off the ignore boxes."""
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    order, matched = quality.greedy_match(xyxy, scores, gt)
    boxes = np.asarray(xyxy, np.float64)[order]
    best = quality.iou_matrix(boxes, gt).max(axis=1) if len(gt) and len(boxes) else np.zeros(len(boxes))
    out = []
    for box, score, j, iou in zip(boxes, np.asarray(scores)[order], matched, best):
        if j >= 0 or (len(ignore) and quality._on_ignore(box, ignore)):  # noqa: SLF001
            continue
        what = "duplicate" if iou >= quality.MATCH_IOU else "loose" if iou >= LOOSE_IOU else "elsewhere"
        out.append((box, float(score), what))
    return out


def contact_sheet(root: Path, items: list[dict], path: Path, limit: int) -> None:
    tiles = []
    for item in items[:limit]:
        bgr = cv2.imread(str(root / item["image"]), cv2.IMREAD_COLOR)
        x1, y1, x2, y2 = item["box"]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        r = int(max(60, 1.5 * (x2 - x1)))
        h, w = bgr.shape[:2]
        crop = bgr[max(0, int(cy) - r): min(h, int(cy) + r), max(0, int(cx) - r): min(w, int(cx) + r)]
        tile = cv2.resize(crop, (TILE, TILE)) if crop.size else np.zeros((TILE, TILE, 3), np.uint8)
        label = f"{item['n']} {item['score']:.2f} w{int(x2 - x1)}"
        cv2.putText(tile, label, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
        tiles.append(tile)
    while len(tiles) % 8:
        tiles.append(np.zeros((TILE, TILE, 3), np.uint8))
    if tiles:
        cv2.imwrite(str(path), np.vstack([np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles), 8)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set", type=Path, help="a set folder or its annotations.json (image rows are used)")
    ap.add_argument("--out", type=Path, required=True, help="OUT.png and OUT.json are written")
    ap.add_argument("--max", type=int, default=64, help="cut-outs on the contact sheet (default 64)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    _name, root, rows = quality.load_set(args.set)
    settings = AnonymiseSettings()
    items = unmatched(root, rows, settings, open_detectors(settings, threads=args.threads))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(items, indent=1) + "\n")
    contact_sheet(root, items, args.out.with_suffix(".png"), args.max)
    counts = {what: sum(1 for i in items if i["what"] == what) for what in ("duplicate", "loose", "elsewhere")}
    print(f"{len(items)} unmatched detections ({', '.join(f'{k} {v}' for k, v in counts.items())}); sheet {args.out.with_suffix('.png')}, list {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
