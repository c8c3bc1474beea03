"""Face detectors alone, side by side, on the photos of annotated sets: recall at coverage per face size, detections
per image (a precision proxy) and CPU per image, each model on one ONNX Runtime thread.

A ground-truth box counts as found when >= 80 % of its area lies inside the ellipse the product would redact
around some detection (the box enlarged ``settings.face_scale``, domain/regions.py). Boxes under ``ignore`` are
skipped. Sizes are the ground-truth box's longer side.

Detectors: CenterFace with the frame scaled to long side 960 (the coarse pass) and at the picture's own size (the
fine pass), YuNet at the picture's own size (``settings.face_fine = "yunet"``) at a few thresholds, and unions.

    PYTHONPATH=. .venv/bin/python benchmarks/face_models.py ../shared/eval/faces_dlib .bench/small_1080p [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anonymizer.domain.detections import Detections  # noqa: E402
from anonymizer.domain.regions import regions_for  # noqa: E402
from anonymizer.inference.face import FaceDetector  # noqa: E402
from anonymizer.inference.manifest import installed, load_manifest  # noqa: E402
from anonymizer.inference.session import make_session  # noqa: E402
from anonymizer.inference.yunet import YuNetDetector  # noqa: E402
from anonymizer.settings import AnonymiseSettings  # noqa: E402

BINS = ((0, 10, "<10"), (10, 20, "10-19"), (20, 40, "20-39"), (40, 1e9, ">=40"))
YUNET_THRESHOLDS = (0.3, 0.5, 0.7)


def detectors() -> dict[str, object]:
    specs = load_manifest()
    settings = AnonymiseSettings()
    cf_path = installed(specs["centerface"]).path
    yn_path = installed(specs["yunet"]).path
    out: dict[str, object] = {
        "centerface@960": FaceDetector(make_session(cf_path, threads=1), settings.face_threshold, 960),
        "centerface@full": FaceDetector(make_session(cf_path, threads=1), settings.face_threshold, 0),
    }
    yn_session = make_session(yn_path, threads=1)
    for t in YUNET_THRESHOLDS:
        out[f"yunet@full t{t}"] = YuNetDetector(yn_session, t, 0)
    return out


def run(det, rgb: np.ndarray) -> tuple[Detections, float]:
    h, w = rgb.shape[:2]
    t0 = time.process_time()
    in_w, in_h = det.input_size(w, h)
    img = rgb if (in_w, in_h) == (w, h) else cv2.resize(rgb, (in_w, in_h), interpolation=cv2.INTER_AREA)
    dets = det.detect(img, w, h)
    return dets, (time.process_time() - t0) * 1000


def found(boxes: np.ndarray, gts: np.ndarray, w: int, h: int, scale: float) -> np.ndarray:
    regions = regions_for(boxes, np.zeros((0, 4), np.float32), w, h, scale, 0.0)
    return np.array([regions.covered_fraction(g) >= 0.8 for g in gts], bool)


def evaluate(set_dir: Path, limit: int) -> None:
    rows = [r for r in json.loads((set_dir / "annotations.json").read_text()) if "image" in r and r["kind"] == "face"]
    rows = rows[:limit] if limit else rows
    dets = detectors()
    scale = AnonymiseSettings().face_scale
    combos = {name: [name] for name in dets}
    combos["centerface@960 + centerface@full"] = ["centerface@960", "centerface@full"]
    for t in YUNET_THRESHOLDS:
        combos[f"centerface@960 + yunet t{t}"] = ["centerface@960", f"yunet@full t{t}"]
    combos["centerface@960+full + yunet t0.5"] = ["centerface@960", "centerface@full", "yunet@full t0.5"]
    hits = {c: [] for c in combos}
    counts = {c: 0 for c in combos}
    ms = {c: 0.0 for c in combos}
    sizes: list[float] = []
    pixels = 0
    for row in rows:
        with Image.open(set_dir / row["image"]) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        h, w = rgb.shape[:2]
        pixels += w * h
        gts = np.asarray(row["boxes"], np.float32).reshape(-1, 4)
        sizes.extend(np.maximum(gts[:, 2] - gts[:, 0], gts[:, 3] - gts[:, 1]).tolist())
        per = {name: run(det, rgb) for name, det in dets.items()}
        for combo, parts in combos.items():
            boxes = np.concatenate([per[p][0].xyxy for p in parts])
            hits[combo].extend(found(boxes, gts, w, h, scale).tolist())
            counts[combo] += len(boxes)
            ms[combo] += sum(per[p][1] for p in parts)
    sizes_a = np.asarray(sizes)
    n = len(rows)
    print(f"\n## {set_dir} ({n} images, mean {pixels / max(n, 1) / 1e6:.2f} Mpx, {len(sizes)} faces)\n")
    heads = [f"{label} ({int(((sizes_a >= lo) & (sizes_a < hi)).sum())})" for lo, hi, label in BINS]
    print("| detector | " + " | ".join(heads) + " | all | >=20 | dets/image | CPU ms/image |")
    print("|---|" + "---|" * (len(heads) + 4))
    for combo in combos:
        hit = np.asarray(hits[combo], bool)
        cells = []
        for lo, hi, _ in BINS:
            sel = (sizes_a >= lo) & (sizes_a < hi)
            cells.append(f"{hit[sel].mean():.3f}" if sel.any() else "-")
        big = sizes_a >= 20
        print(f"| {combo} | " + " | ".join(cells) + f" | {hit.mean():.3f} | {hit[big].mean():.3f} | "
              f"{counts[combo] / n:.1f} | {ms[combo] / n:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="first N images of each set")
    args = parser.parse_args()
    for set_dir in args.sets:
        evaluate(set_dir, args.limit)


if __name__ == "__main__":
    main()
