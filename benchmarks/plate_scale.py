"""How often the plate detectors find a plate, by its width, at its own size and enlarged.

For every annotated plate of the image rows of the given sets (any set in the common format), a 512 px square crop
around it (the plate off-centre by up to 150 px, fixed seed) is run through platedet and clpdet, each alone, at the
crop's own size and enlarged by each ``--scales`` factor, with their thresholds lowered to 0.02; a plate counts as
found by a run when a box of that run overlaps it with IoU >= 0.3 and scores at least the threshold of the row
printed. The table gives the share found per plate width (px of the picture), for the arrangements the pipeline can
run: what the video full-resolution pass sees (``--small-objects native``: both at the own size; the default up to
4K: platedet enlarged 2x, clpdet enlarged 3x at its enlarged threshold, and both at the own size: give
``--second-scales 3``) and some alternatives. With
``--contrasted 3`` each crop is also cut from the picture contrast-equalised as the photo pass does
(``detection.contrasted``) and run enlarged by those factors: the rows "photos: ..." are a photo's plate passes with
the contrasted pass at platedet 0.2 / clpdet 0.7, the crop study that chose the pass (the pipeline's thresholds,
0.5 / 0.9, were chosen after on whole photos: ``contrast_sweep.py``).

    PYTHONPATH=. .venv/bin/python benchmarks/plate_scale.py .bench/small_720p .bench/small_1080p .bench/small_4k
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality  # noqa: E402

CROP = 512
JITTER = 150
LOW = 0.02
MATCH_IOU = 0.3
BINS = (30, 40, 50, 60, 80, 100, 130, 200)


def best_match(found, truth: np.ndarray) -> float:
    """Best score among ``found``'s boxes overlapping the plate ``truth`` (1, 4) at IoU >= ``MATCH_IOU``; 0 if none."""
    from anonymizer.domain.geometry import iou_matrix

    if not len(found):
        return 0.0
    ok = iou_matrix(truth, found.xyxy)[0] >= MATCH_IOU
    return float(found.scores[ok].max()) if ok.any() else 0.0


def best_scores(detectors, crop: np.ndarray, truth: np.ndarray, scales: list[float],
                second_scales: list[float] = ()) -> dict[str, float]:
    """Best score of each detector ("p": platedet, "c": clpdet) at each scale over boxes matching the plate; at the
    ``second_scales`` clpdet only."""
    out = {}
    for s in sorted({*scales, *second_scales}):
        img = crop if s == 1 else cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
        for tag, det in (("p", detectors.primary), ("c", detectors.second)):
            if tag == "p" and s not in scales:
                continue
            out[f"{tag}{s:g}"] = best_match(det.detect_native(img), truth * s)
    return out


def own_score(detector, crop: np.ndarray, truth: np.ndarray) -> float:
    """Best score of platenet over boxes matching the plate, on the views the pipeline shows it (``detect_views``:
    the crop at its own size and at half of it)."""
    return best_match(detector.detect_views(crop), truth)


def measure(sets: list[Path], scales: list[float], seed: int = 1, contrasted: list[float] | None = None,
            second_scales: list[float] = (), platenet: Path | None = None, others: bool = True) -> list[dict]:
    from anonymizer.inference.plate_retina import PlateUnion
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    from anonymizer.pipelines.detection import contrasted as pipeline_contrasted

    union = open_detectors(AnonymiseSettings().with_(plate_fine="platedet"), threads=2)["plate"].detector
    if not isinstance(union, PlateUnion):
        raise SystemExit("plate_scale.py: needs both plate detectors (plate_second clpdet)")
    union.primary.threshold = LOW
    union.second.threshold = LOW
    own = None
    if platenet is not None:  # the project's own detector, at the crop's own size only (key "n1")
        from anonymizer.inference.platenet import PlateNetDetector
        from anonymizer.inference.session import make_session

        own = PlateNetDetector(make_session(platenet, threads=1), LOW)
    rng = np.random.default_rng(seed)
    out = []
    for path in sets:
        name, root, rows = quality.load_set(path)
        for row in rows:
            if row.kind != "plate" or row.image is None:
                continue
            rgb = quality._read_rgb(root / row.image)
            equalised = pipeline_contrasted(rgb) if contrasted else None  # the whole picture, as the pipeline does
            H, W = rgb.shape[:2]
            for x1, y1, x2, y2 in row.boxes:
                cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
                ox = int(np.clip(cx - CROP / 2 + rng.uniform(-JITTER, JITTER), 0, max(0, W - CROP)))
                oy = int(np.clip(cy - CROP / 2 + rng.uniform(-JITTER, JITTER), 0, max(0, H - CROP)))
                crop = np.ascontiguousarray(rgb[oy : oy + CROP, ox : ox + CROP])
                truth = np.array([[x1 - ox, y1 - oy, x2 - ox, y2 - oy]], np.float32)
                scores = best_scores(union, crop, truth, scales, second_scales) if others else {}
                if own is not None:
                    scores["n1"] = own_score(own, crop, truth)
                if equalised is not None:
                    crop_k = np.ascontiguousarray(equalised[oy : oy + CROP, ox : ox + CROP])
                    scores.update({f"{k}k": v for k, v in best_scores(union, crop_k, truth, contrasted).items()})
                out.append({"set": name, "w": x2 - x1, **scores})
        print(f"# {name}: {len(out)} plates so far", file=sys.stderr)
    return out


def arrangements(scales: list[float], keys: set[str] = frozenset()) -> dict[str, object]:
    """Named rules: a plate's scores -> found."""
    rules = {}
    if "n1" in keys:
        for thr in (0.2, 0.3, 0.4, 0.5):
            rules[f"platenet (own size and half) at {thr:g}"] = lambda x, thr=thr: x["n1"] >= thr
        if "c1" in keys:
            rules["platenet (0.3) + clpdet own size"] = lambda x: x["n1"] >= 0.3 or x["c1"] >= 0.2
    if "p1" not in keys:
        return rules
    rules |= {
        "own size, both (--small-objects native)": lambda x: x["p1"] >= 0.2 or x["c1"] >= 0.2,
        "own size, platedet": lambda x: x["p1"] >= 0.2,
        "own size, clpdet": lambda x: x["c1"] >= 0.2,
    }
    for s in scales:
        if s == 1:
            continue
        k = f"{s:g}"
        rules[f"{k}x platedet"] = lambda x, k=k: x[f"p{k}"] >= 0.2
        rules[f"{k}x both (clpdet 0.4)"] = lambda x, k=k: x[f"p{k}"] >= 0.2 or x[f"c{k}"] >= 0.4
        rules[f"{k}x both + clpdet own size"] = (
            lambda x, k=k: x[f"p{k}"] >= 0.2 or x[f"c{k}"] >= 0.4 or x["c1"] >= 0.2)
        rules[f"{k}x both + own size both (the video default before clpdet 3x)"] = (
            lambda x, k=k: x[f"p{k}"] >= 0.2 or x[f"c{k}"] >= 0.4 or x["p1"] >= 0.2 or x["c1"] >= 0.2)
        rules[f"{k}x platedet + clpdet own size"] = lambda x, k=k: x[f"p{k}"] >= 0.2 or x["c1"] >= 0.2
    if 2.0 in scales and "c3" in keys:
        rules["platedet 2x + clpdet 3x (0.4) + own size both (the video default)"] = (
            lambda x: x["p2"] >= 0.2 or x["c3"] >= 0.4 or x["p1"] >= 0.2 or x["c1"] >= 0.2)
        # A cascade (issue 10): the enlarged runs only around own-size proposals of either detector scoring at
        # least ``low`` (a crop around a proposal enlarged finds what the whole picture enlarged finds there).
        for low in (LOW, 0.05, 0.1):
            rules[f"the video default, enlarged runs only around own-size proposals >= {low:g} (a cascade)"] = (
                lambda x, low=low: x["p1"] >= 0.2 or x["c1"] >= 0.2
                or (max(x["p1"], x["c1"]) >= low and (x["p2"] >= 0.2 or x["c3"] >= 0.4)))
    default = rules.get("2x both + own size both (the video default before clpdet 3x)")
    for k in sorted({key[1:-1] for key in keys if key.endswith("k") and key[0] in "pc"} - {"1"}, key=float):
        if default is None:
            break
        rules[f"photos: the 2x default + contrasted {k}x both (clpdet 0.7)"] = (
            lambda x, k=k: default(x) or x.get(f"p{k}k", 0.0) >= 0.2 or x.get(f"c{k}k", 0.0) >= 0.7)
        rules[f"contrasted {k}x both (clpdet 0.4) + own size both"] = (
            lambda x, k=k: x.get(f"p{k}k", 0.0) >= 0.2 or x.get(f"c{k}k", 0.0) >= 0.4 or x["p1"] >= 0.2 or x["c1"] >= 0.2)
    return rules


def table(rows: list[dict], scales: list[float]) -> str:
    head = ["arrangement"] + [f"{lo}-{hi} px" for lo, hi in zip(BINS, BINS[1:])] + [">= 40 px"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    counts = ["plates"] + [str(sum(lo <= r["w"] < hi for r in rows)) for lo, hi in zip(BINS, BINS[1:])]
    counts.append(str(sum(r["w"] >= 40 for r in rows)))
    lines.append(" | ".join(counts))
    for name, rule in arrangements(scales, set(rows[0]) if rows else set()).items():
        cells = [name]
        for lo, hi in zip(BINS, BINS[1:]):
            sel = [r for r in rows if lo <= r["w"] < hi]
            cells.append(f"{np.mean([rule(r) for r in sel]):.2f}" if sel else "-")
        sel = [r for r in rows if r["w"] >= 40]
        cells.append(f"{np.mean([rule(r) for r in sel]):.3f}" if sel else "-")
        lines.append(" | ".join(cells))
    return "\n".join("| " + line + " |" for line in lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="*", type=Path, help="sets in the common format (their image rows are used)")
    ap.add_argument("--scales", default="1,2", help="comma-separated enlargements (1 is always run; default 1,2)")
    ap.add_argument("--second-scales", default="",
                    help="comma-separated enlargements run for clpdet only, e.g. 3 (the video default's clpdet run)")
    ap.add_argument("--contrasted", default="",
                    help="comma-separated enlargements also run on the picture contrast-equalised as the photo pass "
                         "does (detection.contrasted), e.g. 2,3")
    ap.add_argument("--platenet", type=Path, help="also run this platenet ONNX file at the crop's own size")
    ap.add_argument("--only-platenet", action="store_true", help="run platenet alone (with --platenet)")
    ap.add_argument("--save", type=Path, help="also write the per-plate scores as JSON")
    ap.add_argument("--load", type=Path, nargs="+",
                    help="print the table of scores saved with --save (run nothing); several files of the same sets "
                         "and seed (e.g. one with --only-platenet) are merged plate by plate")
    args = ap.parse_args(argv)
    scales = sorted({1.0, *(float(s) for s in args.scales.split(","))})
    if args.load:
        saved = [json.loads(path.read_text()) for path in args.load]
        if len({len(rows) for rows in saved}) != 1:
            ap.error("--load: the files hold different numbers of plates (not the same sets and seed)")
        merged = [dict(item for rows in group for item in rows.items()) for group in zip(*saved)]
        print(table(merged, scales))
        return 0
    if not args.sets:
        ap.error("give at least one set (or --load)")
    for path in args.sets:
        if not (path / "annotations.json").exists():
            ap.error(f"{path}: no annotations.json")
    contrasted = sorted({float(s) for s in args.contrasted.split(",") if s})
    second = sorted({float(s) for s in args.second_scales.split(",") if s})
    rows = measure(args.sets, scales, contrasted=contrasted or None, second_scales=second, platenet=args.platenet,
                   others=not args.only_platenet)
    if args.save:
        args.save.write_text(json.dumps(rows))
    print(table(rows, scales))
    return 0


if __name__ == "__main__":
    sys.exit(main())
