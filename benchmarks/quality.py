"""Detection-quality harness: what the anonymiser actually redacts, scored against annotated sets.

Reads any set in the common annotation format (``annotations.json``: one row per image or video frame, see
``benchmarks/README.md``) and reports, per set:

- blur-coverage recall: a ground-truth box is covered when at least 80 % of its area lies inside the pixels the
  anonymiser redacted (the privacy figure);
- recall at IoU >= 0.5 and precision of the raw detector of the row's kind (detector quality);
- for video: the frames in which some ground-truth box is not covered (leaked frames), and a second, pixel-level
  figure from the output video itself: frames where the central 80 % ellipse of a ground-truth box keeps >= 0.2
  of the input's Laplacian energy (``pixel_leak.py``);
- cover-recall by object size (faces >= 16 / >= 20 px, plates >= 40 px wide, all).

Everything is scored in display orientation (``--rotate N`` scores a copy of the set's videos stored rotated with
a display matrix, see ``rotated_set.py``).

Photos and extracted frames (``image`` rows) go through the product's photo path, ``anonymise_photo`` (what
``anonymizer anonymise`` runs on a .jpg/.jpeg/.png: read as displayed, the photo plan ``regions_for_image``, the
residual check, the photo written into a temporary folder); the regions it redacted and the detections it found
are scored.
Video rows (``video`` + ``frame``) go through the real pipeline, ``anonymise_file``, into a temporary folder; its
``on_regions`` callback gives what was redacted on every frame (keyframes, carried and interpolated boxes).
Detector recall/precision on video rows comes from the detectors run by this harness on each annotated frame,
decoded with PyAV and scaled exactly as the pipeline scales its keyframes (so on keyframes it equals the
pipeline's raw detections; on the other frames it is what a keyframe there would have found).

    python benchmarks/quality.py /work/shared/eval/faces_tld_video [more sets...] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import numpy as np

import pixel_leak
from bench_source import REPO, describe, maybe_reexec
from rotated_set import make_rotated_set, make_upside_down_set, reencode_video

maybe_reexec()  # --ref REV: measure a committed revision (before anonymizer is imported)

from anonymizer.domain.detections import Detections  # noqa: E402
from anonymizer.domain.geometry import iou_matrix  # noqa: E402
from anonymizer.domain.redacted_area import redacted_share  # noqa: E402
from anonymizer.domain.regions import Regions, regions_for  # noqa: E402
from anonymizer.imaging.redact import region_mask  # noqa: E402
from anonymizer.media.photo import is_photo  # noqa: E402
from anonymizer.pipelines.anonymise import anonymise_file  # noqa: E402
from anonymizer.pipelines.batch import open_detectors  # noqa: E402
from anonymizer.pipelines.photo import anonymise_photo  # noqa: E402
from anonymizer.settings import AnonymiseSettings  # noqa: E402

COVERAGE = 0.8  # share of a ground-truth box that must be redacted for it to count as covered
MATCH_IOU = 0.5
IGNORE_OVERLAP = 0.5  # an unmatched detection at least this much inside an ignore box is not counted
MAX_LISTED = 50  # misses listed per set in --json output
# Recall by object size. A face's size is max(width, height) of its ground-truth box, a plate's its width (what
# limits a plate's legibility), both in pixels of the frame as displayed.
SIZE_BUCKETS = {"face": (16, 20), "plate": (40,)}
SIZE_BINS = (0, 12, 16, 20, 24, 32, 48, 64, 96, 160)  # finer histogram in --json: [lo, hi) px, last bin open


def box_size(kind: str, box: np.ndarray) -> float:
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    return w if kind == "plate" else max(w, h)


def size_keys(kind: str, size: float) -> list[str]:
    """The buckets a box of this size counts in: "all", ">=N" for each threshold it reaches, and its bin."""
    keys = ["all"] + [f">={t}" for t in SIZE_BUCKETS.get(kind, ()) if size >= t]
    for lo, hi in zip(SIZE_BINS, SIZE_BINS[1:] + (None,)):
        if size >= lo and (hi is None or size < hi):
            keys.append(f"{lo}-{hi}" if hi is not None else f"{lo}+")
            break
    return keys

log = logging.getLogger("benchmarks.quality")


# ----------------------------------------------------------------------------------------------------- the set


@dataclass(frozen=True)
class Row:
    index: int
    kind: str
    boxes: np.ndarray  # (N, 4) ground truth of this kind
    ignore: np.ndarray  # (M, 4)
    image: str | None = None
    video: str | None = None
    frame: int | None = None

    @property
    def where(self) -> str:
        return self.image if self.image is not None else f"{self.video}#{self.frame}"


def _boxes(value: object) -> np.ndarray:
    arr = np.asarray(value if value is not None else [], np.float64).reshape(-1, 4)
    return arr


def load_set(path: Path) -> tuple[str, Path, list[Row]]:
    """(name, root folder, rows) of a set given as its folder or its annotations.json."""
    ann = path / "annotations.json" if path.is_dir() else path
    root = ann.parent
    data = json.loads(ann.read_text())
    if not isinstance(data, list):
        raise SystemExit(f"{ann}: expected a JSON list of rows")
    rows = []
    for i, r in enumerate(data):
        if "kind" not in r or "boxes" not in r or ("image" not in r and "video" not in r):
            raise SystemExit(f"{ann}: row {i} lacks kind, boxes or image/video: {r}")
        if "video" in r and "frame" not in r:
            raise SystemExit(f"{ann}: row {i} is a video row without a frame index")
        rows.append(Row(
            index=i, kind=r["kind"], boxes=_boxes(r["boxes"]), ignore=_boxes(r.get("ignore")),
            image=r.get("image"), video=r.get("video"), frame=int(r["frame"]) if "video" in r else None,
        ))
    return root.name, root, rows


# ----------------------------------------------------------------------------------------------------- scoring


@dataclass
class Tally:
    rows: int = 0
    gt: int = 0
    covered: int = 0
    matched: int = 0  # ground-truth boxes matched by a detection at IoU >= 0.5
    detections: int = 0  # detections of the row's kind, not counting those on ignore boxes
    true_positives: int = 0
    ignored_gt: int = 0
    ignored_detections: int = 0
    rows_leaked: int = 0  # rows (images / frames) with at least one uncovered box
    images: int = 0  # distinct images (an image may have a row per kind)
    images_leaked: int = 0
    misses: list[dict] = field(default_factory=list)
    # {"face >=16": [gt, covered, matched], ...}: recall by size (see SIZE_BUCKETS)
    sizes: dict[str, list[int]] = field(default_factory=dict)
    # {"face": [detections, true positives], ...}: precision per kind (a set may annotate several)
    kinds: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: "Tally") -> None:
        for name in ("rows", "gt", "covered", "matched", "detections", "true_positives", "ignored_gt",
                     "ignored_detections", "rows_leaked", "images", "images_leaked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses.extend(other.misses)
        for key, counts in other.sizes.items():
            mine = self.sizes.setdefault(key, [0, 0, 0])
            for i, v in enumerate(counts):
                mine[i] += v
        for key, counts in other.kinds.items():
            mine = self.kinds.setdefault(key, [0, 0])
            for i, v in enumerate(counts):
                mine[i] += v

    def size_figures(self) -> dict:
        """{"face >=16": {"gt", "covered", "coverage_recall", "matched", "recall_iou50"}, ...} in a stable order."""
        def order(key: str) -> tuple:
            kind, bucket = key.split(" ", 1)
            if bucket == "all":
                return (kind, 0, 0)
            if bucket.startswith(">="):
                return (kind, 1, int(bucket[2:]))
            return (kind, 2, int(bucket.split("-")[0].rstrip("+")))

        out = {}
        for key in sorted(self.sizes, key=order):
            gt, covered, matched = self.sizes[key]
            out[key] = {"gt": gt, "covered": covered, "coverage_recall": round(covered / gt, 4) if gt else None,
                        "matched": matched, "recall_iou50": round(matched / gt, 4) if gt else None}
        return out

    def figures(self) -> dict:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "rows": self.rows, "gt_boxes": self.gt, "ignored_gt_boxes": self.ignored_gt,
            "covered": self.covered, "coverage_recall": ratio(self.covered, self.gt),
            "matched_iou50": self.matched, "recall_iou50": ratio(self.matched, self.gt),
            "detections": self.detections, "true_positives": self.true_positives,
            "ignored_detections": self.ignored_detections,
            "precision": ratio(self.true_positives, self.detections),
            "rows_leaked": self.rows_leaked, "images": self.images, "images_leaked": self.images_leaked,
            "by_size": self.size_figures(),
            "precision_by_kind": {k: {"detections": d, "true_positives": tp, "precision": ratio(tp, d)}
                                  for k, (d, tp) in sorted(self.kinds.items())},
        }


def _pixel_box(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    x1 = min(max(0, int(round(box[0]))), width)
    y1 = min(max(0, int(round(box[1]))), height)
    x2 = min(max(0, int(round(box[2]))), width)
    y2 = min(max(0, int(round(box[3]))), height)
    return x1, y1, x2, y2


def coverage(mask: np.ndarray, box: np.ndarray) -> float | None:
    """Share of the box's pixels (clipped to the frame) that are redacted; None for an empty box."""
    height, width = mask.shape
    x1, y1, x2, y2 = _pixel_box(box, width, height)
    if x2 <= x1 or y2 <= y1:
        return None
    return float(mask[y1:y2, x1:x2].mean())


def greedy_match(xyxy: np.ndarray, scores: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching by score, VOC style: (the detections' indices, best score first; for each of them in that
    order, the ground-truth box it matches at IoU >= MATCH_IOU, one detection per box, or -1)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)[order]
    matched = np.full(len(boxes), -1, np.int64)
    if len(gt) == 0 or len(boxes) == 0:
        return order, matched
    ious = iou_matrix(boxes, gt)
    taken = np.zeros(len(gt), bool)
    for i in range(len(boxes)):
        cand = np.where(~taken, ious[i], -1.0)
        j = int(np.argmax(cand))
        if cand[j] >= MATCH_IOU:
            taken[j] = True
            matched[i] = j
    return order, matched


def match(gt: np.ndarray, ignore: np.ndarray, dets: Detections) -> tuple[np.ndarray, int, int]:
    """Greedy matching by score (``greedy_match``): (which ground-truth boxes are matched, true positives,
    detections on ignore boxes)."""
    if len(dets) == 0:
        return np.zeros(len(gt), bool), 0, 0
    order, matched = greedy_match(dets.xyxy, dets.scores, gt)
    taken = np.zeros(len(gt), bool)
    taken[matched[matched >= 0]] = True
    boxes = dets.xyxy[order].astype(np.float64)
    ignored = sum(1 for box, j in zip(boxes, matched) if j < 0 and len(ignore) and _on_ignore(box, ignore))
    return taken, int((matched >= 0).sum()), ignored


def _on_ignore(box: np.ndarray, ignore: np.ndarray) -> bool:
    if iou_matrix(box[None], ignore).max() >= MATCH_IOU:
        return True
    area = max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))
    ix = np.clip(np.minimum(box[2], ignore[:, 2]) - np.maximum(box[0], ignore[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], ignore[:, 3]) - np.maximum(box[1], ignore[:, 1]), 0, None)
    return bool(((ix * iy) / area).max() >= IGNORE_OVERLAP)


def score_row(row: Row, mask: np.ndarray, dets: Detections) -> Tally:
    t = Tally(rows=1, ignored_gt=len(row.ignore))
    leaked = False
    gt = []
    hit = []
    for box in row.boxes:
        cov = coverage(mask, box)
        if cov is None:  # a degenerate (or off-frame) box: neither hit nor miss
            t.ignored_gt += 1
            continue
        gt.append(box)
        hit.append(cov >= COVERAGE)
        t.gt += 1
        if cov >= COVERAGE:
            t.covered += 1
        else:
            leaked = True
            if len(t.misses) < MAX_LISTED:
                t.misses.append({"row": row.index, "where": row.where, "box": [round(float(v), 1) for v in box],
                                 "covered": round(cov, 3)})
    gt_arr = np.asarray(gt, np.float64).reshape(-1, 4)
    taken, tp, ignored = match(gt_arr, row.ignore, dets)
    t.matched, t.true_positives, t.ignored_detections = int(taken.sum()), tp, ignored
    for box, covered, matched in zip(gt_arr, hit, taken):
        for key in size_keys(row.kind, box_size(row.kind, box)):
            counts = t.sizes.setdefault(f"{row.kind} {key}", [0, 0, 0])
            counts[0] += 1
            counts[1] += int(covered)
            counts[2] += int(matched)
    t.detections = len(dets) - ignored
    t.kinds[row.kind] = [t.detections, tp]
    t.rows_leaked = int(leaked)
    return t


AREA_CELL = 2  # grid cell (px) of the over-redaction areas: fine enough for a 16 px face's ellipse


def over_redaction(rows: list[Row], regions: dict[int, Regions], stored_w: int, stored_h: int, rotation: int,
                   settings: AnonymiseSettings) -> dict:
    """Per annotated frame of one video: the area redacted (union of the frame's regions) over the area the ground
    truth needs (its boxes, ignore boxes included, turned into regions with the product's own margins:
    ``regions_for`` with ``face_scale`` and ``plate_pad``). Frames with nothing to redact are kept apart, as the
    share of the frame redacted. Returns {"ratios": {frame: ratio}, "empty": {frame: share}}."""
    quarter = (int(round(rotation / 90)) % 4) if rotation else 0
    disp_w, disp_h = (stored_h, stored_w) if quarter % 2 else (stored_w, stored_h)
    by_frame: dict[int, dict[str, list[np.ndarray]]] = defaultdict(lambda: {"face": [], "plate": []})
    for r in rows:
        by_frame[r.frame].setdefault(r.kind, []).extend([*r.boxes, *r.ignore])  # type: ignore[index]
    ratios: dict[int, float] = {}
    empty: dict[int, float] = {}
    for frame, boxes in by_frame.items():
        if frame not in regions:
            continue  # beyond the clip's end: nothing was written
        done = redacted_share(regions[frame], stored_w, stored_h, AREA_CELL)
        stack = {k: np.asarray(boxes.get(k, []), np.float32).reshape(-1, 4) for k in ("face", "plate")}
        need = redacted_share(regions_for(stack["face"], stack["plate"], disp_w, disp_h, settings.face_scale,
                                          settings.plate_pad), disp_w, disp_h, AREA_CELL)
        if need > 0:
            ratios[frame] = done / need
        else:
            empty[frame] = done
    return {"ratios": ratios, "empty": empty}


def over_figures(ratios: dict[str, float], empty: dict[str, float]) -> dict:
    """Mean and worst of the per-frame ratios (keys name the frame: ``video#frame``), and of the shares redacted on
    frames with nothing to redact."""
    def worst(d: dict[str, float]) -> tuple[float | None, str | None]:
        if not d:
            return None, None
        k = max(d, key=d.__getitem__)
        return round(d[k], 3), k

    r_worst, r_at = worst(ratios)
    e_worst, e_at = worst(empty)
    return {"frames": len(ratios), "mean": round(float(np.mean(list(ratios.values()))), 3) if ratios else None,
            "worst": r_worst, "worst_frame": r_at,
            "empty_frames": len(empty),
            "empty_mean_share": round(float(np.mean(list(empty.values()))), 4) if empty else None,
            "empty_worst_share": e_worst, "empty_worst_frame": e_at}


# ----------------------------------------------------------------------------------------------------- evaluation


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"{path}: cannot read image")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def darkening(gamma: float, gain: float) -> np.ndarray:
    """The 256-entry table of ``--darken``: 255 * gain * (v / 255) ** gamma, an underexposed (night) copy."""
    return np.clip(np.round(255.0 * gain * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)


def darken_video(src: Path, dst: Path, gamma: float, gain: float) -> int:
    """``src`` re-encoded into ``dst`` with ``darkening`` applied to every frame as displayed (``reencode_video``:
    libx264 CRF 16, the same frames in the same order, so annotated frame indices still hold; a display matrix is
    applied, the copy stored as displayed, as the annotations are). Returns the frame count."""
    table = darkening(gamma, gain)
    dst.parent.mkdir(parents=True, exist_ok=True)
    return reencode_video(src, dst, transform=lambda rgb: table[rgb], crf=16)


def dark_root(root: Path, videos: list[str], gamma: float, gain: float) -> Path:
    """A folder holding the set's ``videos`` made dark (``darken_video``) under their own relative paths, made once
    into ``.bench/dark/``."""
    out = REPO / ".bench" / "dark" / f"{root.name}_{gamma:g}_{gain:g}"
    for video in videos:
        if not (out / video).exists():
            print(f"# darkening {video} -> {out / video}", file=sys.stderr)
            darken_video(root / video, out / video, gamma, gain)
    return out


def eval_images(root: Path, rows: list[Row], settings: AnonymiseSettings, detectors: dict,
                darken: tuple[float, float] | None = None) -> Tally:
    """Each image once through ``anonymise_photo``, the function ``anonymizer anonymise`` runs on a photo (the
    photo written into a temporary folder, then removed), however many rows (kinds) it has: what it redacted and
    what it found are scored. ``darken``: (gamma, gain) applied to every image first; such an image, or one that is
    not a .jpg/.jpeg/.png, is handed over as a lossless PNG."""
    import cv2

    table = darkening(*darken) if darken else None
    total = Tally()
    by_image: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_image[row.image].append(row)  # type: ignore[index]
    with tempfile.TemporaryDirectory(prefix="quality-photos-") as tmp:
        for i, (image, image_rows) in enumerate(by_image.items()):
            src = root / image
            if table is not None or not is_photo(src):
                rgb = _read_rgb(src)
                src = Path(tmp) / f"in-{i}.png"
                cv2.imwrite(str(src), np.ascontiguousarray((table[rgb] if table is not None else rgb)[:, :, ::-1]))
            out = Path(tmp) / f"out-{i}{src.suffix}"
            result = anonymise_photo(src, out, settings, detectors, overwrite=True, out_root=Path(tmp))
            mask = region_mask(result.regions, result.report.width, result.report.height)
            for written in (Path(result.report.output), Path(result.report.output + ".report.json")):
                written.unlink(missing_ok=True)
            leaked = False
            for row in image_rows:
                t = score_row(row, mask, result.found.get(row.kind, Detections.empty()))
                leaked = leaked or bool(t.rows_leaked)
                total.add(t)
            total.images += 1
            total.images_leaked += int(leaked)
    return total


def to_display(array: np.ndarray, rotation: int) -> np.ndarray:
    """A stored frame (or mask) as displayed: ``rotation`` is PyAV's ``frame.rotation``, the counter-clockwise
    angle of the stream's display matrix (90, -90/270, 180; 0 for none)."""
    k = (int(round(rotation / 90)) % 4) if rotation else 0
    return np.rot90(array, k) if k else array


def _display_rgb(frame: "object", width: int | None = None, height: int | None = None) -> np.ndarray:
    """RGB of a decoded PyAV frame in display orientation, scaled by swscale to (width, height) given in display
    orientation (None: native)."""
    rotation = int(frame.rotation or 0)  # type: ignore[attr-defined]
    quarter = (int(round(rotation / 90)) % 4) if rotation else 0
    if width is not None and height is not None:
        sw, sh = (height, width) if quarter % 2 else (width, height)
        rgb = frame.reformat(width=sw, height=sh, format="rgb24").to_ndarray()  # type: ignore[attr-defined]
    else:
        rgb = frame.to_ndarray(format="rgb24")  # type: ignore[attr-defined]
    return np.ascontiguousarray(to_display(rgb, rotation))


def _decode(path: Path) -> "Iterator":
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)


def _compare_frames(
    src: Path, out: Path | None, rows: list[Row], kinds: set[str], detectors: dict
) -> tuple[dict, dict, dict]:
    """Decode the input (and the anonymised output, frame by frame beside it) up to the last annotated frame.

    Returns ({frame: {kind: raw Detections}}, {frame: [pixel result per GT box]}, info): raw detections of the
    detector of each kind on the input frame in display orientation, scaled as the pipeline scales a keyframe
    (swscale to the detector's input size; for an unrotated clip exactly the pipeline's keyframe input), and the
    pixel-level figure (``pixel_leak.energy_ratio``) of every ground-truth box, input vs output, both in display
    orientation."""
    wanted = {r.frame: r for r in rows}
    by_frame: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        by_frame[r.frame].append(r)  # type: ignore[index]
    last = max(wanted, default=-1)
    raw: dict[int, dict[str, Detections]] = {}
    pixel: dict[int, list[dict]] = {}
    info = {"decoded": 0, "rotation": 0, "output_rotation": None, "output_frames_short": 0}
    outputs = _decode(out) if out is not None and out.exists() else None
    for index, frame in enumerate(_decode(src)):
        info["decoded"] = index + 1
        if index == 0:
            info["rotation"] = int(frame.rotation or 0)
        out_frame = next(outputs, None) if outputs is not None else None
        if outputs is not None and out_frame is None:
            info["output_frames_short"] += 1
        if out_frame is not None and info["output_rotation"] is None:
            info["output_rotation"] = int(out_frame.rotation or 0)
        if index in by_frame:
            rotation = int(frame.rotation or 0)
            quarter = (int(round(rotation / 90)) % 4) if rotation else 0
            dw, dh = (frame.height, frame.width) if quarter % 2 else (frame.width, frame.height)
            found = {}
            for kind in kinds:
                det = detectors[kind].detector
                w, h = det.input_size(dw, dh)[:2]
                found[kind] = det.detect(_display_rgb(frame, w, h), dw, dh)
            raw[index] = found
            if out_frame is not None:
                g_in = pixel_leak.grey(_display_rgb(frame))
                g_out = pixel_leak.grey(_display_rgb(out_frame))
                if g_in.shape != g_out.shape:
                    raise SystemExit(f"{out}: frame {index} is {g_out.shape} in display orientation, input {g_in.shape}")
                pixel[index] = [
                    {"kind": r.kind, "box": [round(float(v), 1) for v in box], **pixel_leak.energy_ratio(g_in, g_out, box)}
                    for r in by_frame[index] for box in r.boxes
                ]
        if index >= last:
            break
    if outputs is not None:
        outputs.close()
    return raw, pixel, info


def eval_video(
    root: Path, video: str, rows: list[Row], settings: AnonymiseSettings, detectors: dict, tmp: Path
) -> tuple[Tally, dict]:
    """Anonymise the whole clip, then score every annotated frame in display orientation: the coverage figure from
    the regions the pipeline reported for the frame (``on_regions``, in the pixels of the frame as stored and
    redacted, rotated here by the clip's display matrix), the pixel figure from the output video itself."""
    src = root / video
    wanted = {r.frame for r in rows}
    regions: dict[int, Regions] = {}

    def on_regions(index: int, r: Regions) -> None:
        if index in wanted:
            regions[index] = r

    started = time.perf_counter()
    dst = tmp / (Path(video).stem + ".mp4")
    report = anonymise_file(src, dst, settings, detectors, overwrite=True, on_regions=on_regions)
    pipeline_s = time.perf_counter() - started
    # The output as written: the final path, or the quarantine folder when the residual check failed (d45688c on).
    written = Path(report.output) if getattr(report, "output", None) else dst
    raw, pixel, info = _compare_frames(src, written, rows, {r.kind for r in rows}, detectors)
    rotation = info["rotation"]
    total = Tally()
    leaked_frames: list[int] = []
    missing = 0
    pixel_leaked: list[int] = []
    pixel_boxes = {"evaluated": 0, "readable": 0, "skipped_featureless": 0, "skipped_tiny": 0, "no_output": 0}
    pixel_misses: list[dict] = []
    stored_w, stored_h = report.width, report.height
    for row in sorted(rows, key=lambda r: r.frame):  # type: ignore[arg-type, return-value]
        if row.frame not in regions:
            missing += 1  # annotated frame beyond the clip's end: counted as a leak, nothing was written
            mask = np.zeros((stored_h, stored_w), bool)
        else:
            mask = region_mask(regions[row.frame], stored_w, stored_h)  # type: ignore[index]
        mask = to_display(mask, rotation)
        dets = raw.get(row.frame, {}).get(row.kind, Detections.empty())  # type: ignore[arg-type]
        t = score_row(row, mask, dets)
        if t.rows_leaked and row.frame not in leaked_frames:  # a frame may have a row per kind
            leaked_frames.append(row.frame)  # type: ignore[arg-type]
        total.add(t)
    for frame in sorted(wanted):
        results = pixel.get(frame)
        if results is None:
            pixel_boxes["no_output"] += 1
            continue
        readable = False
        for res in results:
            if res["skipped"] == "featureless":
                pixel_boxes["skipped_featureless"] += 1
            elif res["skipped"] is not None:
                pixel_boxes["skipped_tiny"] += 1
            else:
                pixel_boxes["evaluated"] += 1
                if res["readable"]:
                    pixel_boxes["readable"] += 1
                    readable = True
                    if sum(1 for m in pixel_misses if m["kind"] == res["kind"]) < MAX_LISTED:  # per kind
                        pixel_misses.append({"frame": frame, **res})
        if readable:
            pixel_leaked.append(frame)
    either = sorted(set(leaked_frames) | set(pixel_leaked))
    over = over_redaction(rows, regions, stored_w, stored_h, rotation, settings)
    detail = {
        "video": video, "frames": report.frames, "width": stored_w, "height": stored_h, "rotation": rotation,
        "output_rotation": info["output_rotation"], "annotated_frames": len(wanted), "rows": len(rows),
        "leaked_frames": len(leaked_frames), "leaked_frame_list": leaked_frames,
        "longest_leak_run": _longest_run(leaked_frames),
        "pixel_leaked_frames": len(pixel_leaked), "pixel_leaked_frame_list": pixel_leaked,
        "pixel_longest_leak_run": _longest_run(pixel_leaked), "pixel_boxes": pixel_boxes,
        "pixel_readable": pixel_misses,
        "either_leaked_frames": len(either), "either_leaked_frame_list": either,
        "annotated_frames_missing": missing, "pipeline_s": round(pipeline_s, 2), "pipeline_fps": report.fps,
        "keyframes": report.keyframes, "frames_with_regions": report.frames_with_regions,
        "frames_carried_only": report.frames_carried_only,
        "status": getattr(report, "status", "published"), "passes": getattr(report, "passes", 1),
        "quarantine_reason": getattr(report, "quarantine_reason", ""),
        "residual_possible_leaks": len(report.possible_leaks),
        "residual_sampled": len(report.residual.get("sampled_frames", [])),
        "redacted_share": getattr(report, "redacted_share", {}),
        "over_redaction": over_figures({f"{video}#{k}": v for k, v in over["ratios"].items()},
                                       {f"{video}#{k}": v for k, v in over["empty"].items()}),
        "over_frames": {"ratios": over["ratios"], "empty": over["empty"]},
        **total.figures(),
    }
    return total, detail


def _longest_run(frames: list[int]) -> int:
    best = run = 0
    prev = None
    for f in sorted(frames):
        run = run + 1 if prev is not None and f == prev + 1 else 1
        best = max(best, run)
        prev = f
    return best


def evaluate(path: Path, settings: AnonymiseSettings, detectors: dict, limit: int | None,
             darken: tuple[float, float] | None = None) -> dict:
    name, root, rows = load_set(path)
    if darken:
        name = f"{name} (dark {darken[0]:g}/{darken[1]:g})"
    if limit:
        rows = rows[:limit]
    started = time.perf_counter()
    image_rows = [r for r in rows if r.image is not None]
    by_video: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        if r.video is not None:
            by_video[r.video].append(r)
    total = Tally()
    videos = []
    if image_rows:
        total.add(eval_images(root, image_rows, settings, detectors, darken))
    video_root = dark_root(root, sorted(by_video), *darken) if darken and by_video else root
    with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
        for video, vrows in by_video.items():
            t, detail = eval_video(video_root, video, vrows, settings, detectors, Path(tmp))
            total.add(t)
            videos.append(detail)
    kinds = sorted({r.kind for r in rows})
    result = {
        "set": name, "path": str(path), "kinds": kinds, "image_rows": len(image_rows),
        "video_rows": sum(len(v) for v in by_video.values()), "limit": limit, "darken": darken,
        "video_frames": sum(len({r.frame for r in v}) for v in by_video.values()),
        **total.figures(),
        "leaked_frames": sum(v["leaked_frames"] for v in videos) if videos else None,
        "pixel_leaked_frames": sum(v["pixel_leaked_frames"] for v in videos) if videos else None,
        "either_leaked_frames": sum(v["either_leaked_frames"] for v in videos) if videos else None,
        "pixel_boxes": ({k: sum(v["pixel_boxes"][k] for v in videos) for k in videos[0]["pixel_boxes"]}
                        if videos else None),
        "over_redaction": over_figures(
            {f"{v['video']}#{k}": r for v in videos for k, r in v["over_frames"]["ratios"].items()},
            {f"{v['video']}#{k}": r for v in videos for k, r in v["over_frames"]["empty"].items()}) if videos else None,
        "videos": videos,
        "detections_from": (
            "images: anonymise_photo (the product's photo path: regions_for_image, every detector)"
            + ("; video: harness detector run on every annotated frame, scaled as pipeline keyframes"
               if videos else "")
        ),
        "misses": total.misses,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return result


# ----------------------------------------------------------------------------------------------------- output


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def render(results: list[dict], settings: AnonymiseSettings) -> str:
    lines = [
        f"settings: face_threshold={settings.face_threshold} plate_threshold={settings.plate_threshold} "
        f"face_max_side={settings.face_max_side} plate_max_side={settings.plate_max_side} "
        f"face_stride={settings.face_stride} plate_stride={settings.plate_stride} "
        f"carry_frames={settings.carry_frames} face_scale={settings.face_scale} plate_pad={settings.plate_pad} "
        f"face_first_stage={getattr(settings, 'face_first_stage', 'off')}",
        "",
        f"{'set':<22} {'kind':<10} {'rows':>5} {'gt':>5} {'cover-recall':>18} {'recall@0.5':>18} "
        f"{'precision':>18} {'leaked':>12} {'time':>7}",
    ]
    for r in results:
        leaked = (f"{r['leaked_frames']}/{r.get('video_frames', r['video_rows'])} fr" if r["video_rows"]
                  else f"{r.get('images_leaked', r['rows_leaked'])}/{r.get('images', r['rows'])} im")
        lines.append(
            f"{r['set']:<22} {','.join(r['kinds']):<10} {r['rows']:>5} {r['gt_boxes']:>5} "
            f"{_fmt(r['coverage_recall']):>6} ({r['covered']:>4}/{r['gt_boxes']:<4}) "
            f"{_fmt(r['recall_iou50']):>6} ({r['matched_iou50']:>4}/{r['gt_boxes']:<4}) "
            f"{_fmt(r['precision']):>6} ({r['true_positives']:>4}/{r['detections']:<4}) "
            f"{leaked:>12} {r['seconds']:>6.0f}s"
        )
        if r["video_rows"]:
            pb = r["pixel_boxes"]
            o = r.get("over_redaction") or {}
            if o.get("frames") or o.get("empty_frames"):
                lines.append(
                    f"  over-redaction: redacted / needed area {_fmt(o['mean'])} mean, {_fmt(o['worst'])} worst "
                    f"({o['worst_frame']}) on {o['frames']} frames"
                    + (f"; redacted area on frames with nothing to redact: {_fmt(o['empty_mean_share'])} mean, "
                       f"{_fmt(o['empty_worst_share'])} worst of the frame ({o['empty_frames']} frames)"
                       if o.get("empty_frames") else ""))
            lines.append(
                f"  video frames leaked: coverage {r['leaked_frames']}, pixel {r['pixel_leaked_frames']}, either "
                f"{r['either_leaked_frames']} of {r.get('video_frames', r['video_rows'])}  (pixel figure: {pb['readable']} of "
                f"{pb['evaluated']} boxes readable, {pb['skipped_featureless']} featureless and "
                f"{pb['skipped_tiny']} tiny skipped"
                + (f"; {pb['no_output']} frames with no output frame to compare" if pb["no_output"] else "") + ")"
            )
        buckets = [(k, v) for k, v in r.get("by_size", {}).items() if k.split(" ", 1)[1] == "all" or ">=" in k]
        if buckets:
            lines.append("  cover-recall by size: " + "  ".join(
                f"{k} {_fmt(v['coverage_recall'])} ({v['covered']}/{v['gt']})" for k, v in buckets))
        if len(r.get("precision_by_kind", {})) > 1:
            lines.append("  precision by kind: " + "  ".join(
                f"{k} {_fmt(v['precision'])} ({v['true_positives']}/{v['detections']})"
                for k, v in r["precision_by_kind"].items()))
        for v in r["videos"]:
            rot = f" rotation {v['rotation']} (output {v['output_rotation']})" if v["rotation"] else ""
            lines.append(
                f"  {v['video']:<30} frames {v['frames']:>5}{rot}  cover {_fmt(v['coverage_recall'])}  "
                f"r@0.5 {_fmt(v['recall_iou50'])}  prec {_fmt(v['precision'])}  leaked frames: coverage "
                f"{v['leaked_frames']}/{v['annotated_frames']} (longest run {v['longest_leak_run']}), pixel "
                f"{v['pixel_leaked_frames']} (longest run {v['pixel_longest_leak_run']})  "
                f"residual check flagged {v['residual_possible_leaks']} of {v['residual_sampled']} sampled"
                f"{' (QUARANTINED)' if v.get('status') == 'quarantined' else ''}; "
                + (f"redacted/needed {_fmt(v['over_redaction']['mean'])} mean {_fmt(v['over_redaction']['worst'])} "
                   "worst; " if v.get("over_redaction") else "")
                + f"pipeline {v['pipeline_fps']} fps"
            )
            for label, key in (("coverage", "leaked_frame_list"), ("pixel", "pixel_leaked_frame_list")):
                if v[key]:
                    shown = ", ".join(map(str, v[key][:30]))
                    more = " ..." if len(v[key]) > 30 else ""
                    lines.append(f"    leaked frames ({label}): {shown}{more}")
        if r["ignored_gt_boxes"] or r["ignored_detections"]:
            lines.append(f"  ignored: {r['ignored_gt_boxes']} gt boxes, {r['ignored_detections']} detections")
    lines += [
        "",
        "cover-recall: GT boxes with >= 80 % of their area redacted (what the anonymiser wrote) / GT boxes.",
        "recall@0.5, precision: raw detector of the row's kind (IoU >= 0.5, greedy by score). Images: detections"
        " of anonymise_photo (regions_for_image); video: the detector run by the harness on every annotated frame,"
        " scaled as the pipeline's coarse pass (the full-resolution tile pass is not included).",
        "leaked: video frames (fr) / images (im) with at least one GT box not covered.",
        f"pixel: video frames where the central {int(pixel_leak.CORE * 100)} % ellipse of a GT box keeps >= "
        f"{pixel_leak.READABLE} of the input's Laplacian energy in the output (cores below {pixel_leak.FLOOR} per"
        " pixel skipped as featureless).",
        "size: faces max(w, h), plates width, px of the displayed frame.",
        "over-redaction: per annotated frame, the union of the regions redacted over the union of the GT (and ignore)"
        " boxes made into regions with the product's margins (face_scale, plate_pad); frames without a GT box apart.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="*", type=Path, help="set folders or their annotations.json")
    ap.add_argument("--show", type=Path, default=None, help="print the table of a JSON saved with --save, run nothing")
    ap.add_argument("--limit", type=int, default=None, help="only the first N rows of each set")
    ap.add_argument("--json", action="store_true", help="JSON on stdout instead of the table")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads (default 2)")
    ap.add_argument("--ref", default=None, help="measure this committed revision instead of the working tree")
    ap.add_argument("--save", type=Path, default=None, help="also write the JSON to this file")
    ap.add_argument("--upside-down", choices=("stored", "matrix"), default=None,
                    help="score a copy of each set's videos shown upside down: frames stored turned 180 degrees "
                         "('stored', a camera mounted upside down) or a 180-degree display matrix ('matrix')")
    ap.add_argument("--rotate", type=int, default=None, choices=(90, 180, 270),
                    help="score a copy of each set's videos stored rotated with this display matrix (counter-"
                         "clockwise degrees; made once into .bench/rotated/, see rotated_set.py)")
    ap.add_argument("--darken", default=None, metavar="GAMMA,GAIN",
                    help="score a dark copy of the set: 255 * GAIN * (v / 255) ** GAMMA per channel value (e.g. "
                         "2.2,0.5: a night or underexposed copy of a daylight set); images in memory, videos "
                         "re-encoded once, as displayed, into .bench/dark/")
    for name, typ in (("face_first_stage", str), ("plate_fine", str), ("face_fine", str), ("face_threshold", float), ("plate_threshold", float), ("face_max_side", int),
                      ("plate_max_side", int), ("face_stride", int), ("plate_stride", int),
                      ("carry_frames", int), ("face_scale", float), ("plate_pad", float),
                      ("residual_samples", int), ("device", str)):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None,
                        help=f"override the anonymiser's {name} (default: its own default)")
    args = ap.parse_args(argv)
    if args.show:
        saved = json.loads(args.show.read_text())
        print(f"anonymizer: {saved['anonymizer']['source']}")
        print(render(saved["results"], SimpleNamespace(**saved["settings"])))  # type: ignore[arg-type]
        return 0
    if not args.sets:
        ap.error("give at least one set")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    overrides = {k: getattr(args, k) for k in ("face_first_stage", "plate_fine", "face_threshold", "plate_threshold", "face_max_side",
                                               "plate_max_side", "face_stride", "plate_stride", "carry_frames",
                                               "face_scale", "plate_pad", "residual_samples", "device")}
    settings = AnonymiseSettings().with_(**overrides)
    darken = None
    if args.darken:
        try:
            gamma, gain = (float(v) for v in args.darken.split(","))
        except ValueError:
            ap.error(f"--darken {args.darken}: expected GAMMA,GAIN, e.g. 2.2,0.5")
        darken = (gamma, gain)
    source = describe()  # now: the tree may change (a rebase) while a long run goes on; the imported code does not
    detectors = open_detectors(settings, threads=args.threads)
    results = []
    for path in args.sets:
        if not path.exists():
            ap.error(f"{path}: no such set")
        if args.rotate:
            path = make_rotated_set(path, args.rotate)
        if args.upside_down:
            path = make_upside_down_set(path, args.upside_down)
        res = evaluate(path, settings, detectors, args.limit, darken)
        results.append(res)
        if not args.json:
            print(f"# {res['set']}: done in {res['seconds']} s", file=sys.stderr)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps({"anonymizer": source, "settings": asdict(settings), "results": results},
                                        indent=2) + "\n")
    if args.json:
        print(json.dumps({"anonymizer": source, "settings": asdict(settings), "results": results}, indent=2))
    else:
        print(f"anonymizer: {source['source']}")
        print(render(results, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
