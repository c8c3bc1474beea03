"""Thresholds of the photos' contrast-equalised plate pass, swept in one run.

For each image with a plate row (any set in the common format): the photo plate passes without the contrasted one
(``FrameDetector.image_passes`` with ``detection.CONTRAST_KINDS`` empty), then the contrasted pass's two detectors
(``detection.contrasted``, enlarged ``--factor`` times in ``CONTRAST_TILE`` tiles) at a low threshold, kept apart.
Each pair of thresholds (platedet, clpdet) of ``--platedet`` x ``--clpdet`` is then scored as the quality harness
scores a photo (``regions_for_image``): every box redacted as ``regions_for`` pads it, the redundant ones dropped
from the detections counted (``FrameDetector.suppressed``),
blur-coverage recall of plates >= 40 px and all plates, and plate precision (``quality.score_row``). "off" is the
photo passes without the contrasted one. Approximate in two ways, both small: face regions are not in the mask
(the harness's mask has them), and a detector's duplicates across tiles are merged before the threshold is applied
(the pipeline thresholds first). The pair the pipeline adopts must then be checked with ``quality.py``.

Also printed: the seconds per image of the other passes and of the contrasted pass (``--factor`` changes it).

    PYTHONPATH=. .venv/bin/python benchmarks/contrast_sweep.py ../shared/eval/plates_openalpr_us .bench/small_1080p
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import quality
from anonymizer.domain.detections import Detections
from anonymizer.domain.regions import regions_for
from anonymizer.imaging.redact import region_mask
from anonymizer.inference.plate import detect_enlarged_merged, merge
from anonymizer.inference.plate_retina import PlateUnion
from anonymizer.pipelines import detection
from anonymizer.pipelines.batch import open_detectors
from anonymizer.settings import AnonymiseSettings

LOW = 0.1  # the threshold both detectors run at; the sweep's thresholds must be at least this


def _floats(text: str) -> list[float]:
    values = sorted({float(v) for v in text.split(",") if v})
    if any(v < LOW for v in values):
        raise SystemExit(f"contrast_sweep.py: thresholds must be >= {LOW}")
    return values


def collect(path: Path, union: PlateUnion, detectors: dict, factor: float, limit: int | None) -> list[dict]:
    """Per image: its plate rows, the other passes' boxes, the contrasted pass's boxes per detector, timings."""
    _, root, rows = quality.load_set(path)
    by_image: dict[str, list] = defaultdict(list)
    for row in rows:
        if row.kind == "plate" and row.image is not None:
            by_image[row.image].append(row)
    out = []
    for image, image_rows in list(by_image.items())[:limit]:
        rgb = quality._read_rgb(root / image)
        h, w = rgb.shape[:2]
        fd = detection.FrameDetector(detectors, w, h, fine_kinds=tuple(detectors))
        kinds, detection.CONTRAST_KINDS = detection.CONTRAST_KINDS, ()
        try:
            t0 = time.perf_counter()
            base = fd.image_passes(rgb, "plate")  # every box: the harness redacts them all, counts the kept ones
            t1 = time.perf_counter()
        finally:
            detection.CONTRAST_KINDS = kinds
        equalised = detection.contrasted(rgb)
        thresholds = union.primary.threshold, union.second.threshold
        union.primary.threshold = union.second.threshold = LOW
        try:
            p = detect_enlarged_merged(union.primary.detect_native, equalised, factor, LOW, detection.CONTRAST_TILE)
            c = detect_enlarged_merged(union.second.detect_native, equalised, factor, LOW, detection.CONTRAST_TILE)
        finally:
            union.primary.threshold, union.second.threshold = thresholds
        t2 = time.perf_counter()
        out.append({"rows": image_rows, "w": w, "h": h, "base": base, "p": p, "c": c,
                    "t_base": t1 - t0, "t_contrast": t2 - t1})
    print(f"# {path.name}: {len(out)} images", file=sys.stderr)
    return out


def score(images: list[dict], settings: AnonymiseSettings, tp: float | None, tc: float | None) -> quality.Tally:
    total = quality.Tally()
    empty = np.zeros((0, 4), np.float32)
    for im in images:
        every: Detections = im["base"]
        if tp is not None:
            extra = merge(im["p"][im["p"].scores >= tp], im["c"][im["c"].scores >= tc])
            every = every.concat(extra)
        found = detection.FrameDetector.suppressed(every)  # counted: one per object
        regions = regions_for(empty, every.xyxy, im["w"], im["h"], settings.face_scale, settings.plate_pad)
        mask = region_mask(regions, im["w"], im["h"])
        for row in im["rows"]:
            total.add(quality.score_row(row, mask, found))
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="+", type=Path, help="sets in the common format (their plate image rows are used)")
    ap.add_argument("--platedet", default="0.2,0.3,0.4,0.5,0.6", help="platedet thresholds on the contrasted pass")
    ap.add_argument("--clpdet", default="0.5,0.7,0.8,0.9", help="clpdet thresholds on the contrasted pass")
    ap.add_argument("--factor", type=float, default=detection.CONTRAST_ENLARGE, help="enlargement (default %(default)s)")
    ap.add_argument("--limit", type=int, help="first N images of each set")
    ap.add_argument("--json", type=Path, help="also write the table's figures as JSON")
    args = ap.parse_args(argv)
    settings = AnonymiseSettings()
    detectors = open_detectors(settings, threads=2)
    union = detectors["plate"].detector
    if not isinstance(union, PlateUnion):
        raise SystemExit("contrast_sweep.py: needs both plate detectors (plate_second clpdet)")
    pairs: list[tuple[float | None, float | None]] = [(None, None)]
    pairs += [(tp, tc) for tp in _floats(args.platedet) for tc in _floats(args.clpdet)]
    results = []
    print("| set | platedet / clpdet | plates >= 40 | all plates | precision | s/image other passes | contrasted |")
    print("|---|---|---|---|---|---|---|")
    for path in args.sets:
        images = collect(path, union, detectors, args.factor, args.limit)
        t_base = sum(i["t_base"] for i in images) / max(1, len(images))
        t_con = sum(i["t_contrast"] for i in images) / max(1, len(images))
        for tp, tc in pairs:
            f = score(images, settings, tp, tc).figures()
            big, every = f["by_size"].get("plate >=40", {}), f["by_size"].get("plate all", {})
            name = "off" if tp is None else f"{tp:g} / {tc:g}"
            results.append({"set": path.name, "platedet": tp, "clpdet": tc, "plate_ge40": big, "plate_all": every,
                            "precision": f["precision"], "s_other": t_base, "s_contrasted": t_con})
            print(f"| {path.name} | {name} | {big.get('coverage_recall')} ({big.get('covered')}/{big.get('gt')}) | "
                  f"{every.get('coverage_recall')} ({every.get('covered')}/{every.get('gt')}) | {f['precision']} | "
                  f"{t_base:.2f} | {t_con:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
