"""Generate a set of small faces and plates on real backgrounds at 1080p or 4K, in the common annotation format.

Real faces and plates are cut from annotated photos and pasted, small, onto real backgrounds, so that recall on
small objects is measured at the resolutions cameras record:

- **faces**: every ground-truth face of ``../shared/eval/faces_dlib`` (43, group photos) and the faces of
  scikit-image's ``astronaut`` and ``camera`` photos (their CenterFace boxes at native size, checked by eye); cut
  with a margin of 50 % of the box per side (hair, neck), pasted so that max(w, h) of the face box is 12-80 px
  (log-uniform);
- **plates**: every ground-truth plate of ``plates_openalpr_us`` and ``plates_romania_eu``; cut with a margin of
  100 % of the width left and right and 250 % of the height above and below (the car around it: platedet needs
  it), pasted at a width of 30-160 px
  (log-uniform), aspect kept;
- **backgrounds**: frames of ``../shared/eval/clips/traffic_mihailrc.mp4`` (highway, 720p) and ``vtest.avi``
  (pedestrian street, 720p), and scikit-image photos without faces or plates (coffee, chelsea, rocket, brick,
  grass, gravel, hubble_deep_field, motorcycle), scaled to cover the frame (upscaled: up to 3x for the clips at
  4K, more for the photos) and cropped; a random horizontal flip.

Blending is mild: the cut-out is opaque over the object's box and its alpha falls linearly to 0 across the outer
half of the margin; a random gain of 0.85-1.15. Objects never overlap each other (nor their margins).

Ground truth: the pasted object's box, and the boxes of other faces (plates) of the source photo that the cut-out
shows whole and opaque (group photos: a neighbour is a face like any other, at about the same size). **Ignore**
boxes (count neither as hit nor miss): other objects of the source photo shown in part or in the faded margin, and whatever the package's own detectors find on the
bare background (tiles at native resolution, threshold 0.2: real faces and plates of the clip frames, which are
not annotated); objects are never pasted over those.

Two sets per resolution, both deterministic for a given seed and the same sources:

- ``OUT`` (default ``.bench/small_1080p`` / ``.bench/small_4k``): ``--images`` JPEG images (quality 95), rows
  ``{"image", "kind", "boxes", "ignore", "attrs"}`` one per image and kind;
- ``OUT_video``: ``--video-clips`` clips (default 1) of ``--video-frames`` frames (25 fps, libx264 CRF 16): each a
  still background with its own faces and plates drifting in straight lines (up to 3 px per frame at 1080p, 6 at
  4K), one row per frame and kind. One clip holds 5 plates (4K: 6): too few to measure a plate rate; more clips
  give more distinct objects (the first clip is the same as with one).

    python benchmarks/make_small_set.py --resolution 1080p
    python benchmarks/make_small_set.py --resolution 4k --out .bench/small_4k --images 24 --video-frames 60
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
EVAL = REPO.parent / "shared" / "eval"
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
FACE_SIZES = (12.0, 80.0)
PLATE_WIDTHS = (30.0, 160.0)
FACE_MARGIN = 0.5  # of the box's max side, per side
# Of the plate's width left/right, of its height above/below: the car around it. platedet relies on it: 60 plates
# pasted at native resolution, 60 / 120 px wide, were found 20 / 40 times with a margin of (0.25, 0.6), 48 / 57 with
# (1.0, 2.5).
PLATE_MARGIN = (1.0, 2.5)
# The faces of scikit-image's photos: CenterFace's boxes at native size (thr 0.2), checked by eye.
SKIMAGE_FACES = {"astronaut": [181.5, 58.2, 269.9, 177.8], "camera": [202.3, 118.9, 257.6, 196.9]}
SKIMAGE_BACKGROUNDS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "hubble_deep_field", "motorcycle")
CLIP_BACKGROUNDS = (("traffic_mihailrc.mp4", (0, 110, 220, 330)), ("vtest.avi", (0, 100, 200, 300)))
BACKGROUND_THRESHOLD = 0.2  # the default thresholds of both detectors

log = logging.getLogger("benchmarks.make_small_set")


@dataclass
class Source:
    """A cut-out: RGB crop, the object's box, other objects of the source photo shown whole and opaque in it
    (``extra``: ground truth too) and shown in part or faded (``others``: ignored), in crop pixels."""

    kind: str
    rgb: np.ndarray
    box: np.ndarray
    others: np.ndarray
    origin: str
    extra: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))


def _rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"{path}: cannot read image")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _skimage(name: str) -> np.ndarray:
    import skimage.data as data

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[:, :, :3])


def _cut(kind: str, img: np.ndarray, box: np.ndarray, all_boxes: np.ndarray, origin: str) -> Source | None:
    h, w = img.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    if bw < 4 or bh < 4:
        return None
    if kind == "face":
        mx = my = FACE_MARGIN * max(bw, bh)
    else:
        mx, my = PLATE_MARGIN[0] * bw, PLATE_MARGIN[1] * bh
    x1, y1 = max(0, int(math.floor(box[0] - mx))), max(0, int(math.floor(box[1] - my)))
    x2, y2 = min(w, int(math.ceil(box[2] + mx))), min(h, int(math.ceil(box[3] + my)))
    crop = img[y1:y2, x1:x2]
    shift = np.array([x1, y1, x1, y1], np.float64)
    # The opaque part of the cut-out (see _scaled_cutout): the box and the inner half of each margin.
    ox1, oy1 = x1 + (box[0] - x1) / 2, y1 + (box[1] - y1) / 2
    ox2, oy2 = x2 - (x2 - box[2]) / 2, y2 - (y2 - box[3]) / 2
    others, extra = [], []
    for other in all_boxes:
        if np.allclose(other, box):
            continue
        if other[0] >= ox1 and other[1] >= oy1 and other[2] <= ox2 and other[3] <= oy2:
            extra.append(np.asarray(other, np.float64) - shift)  # shown whole: a face like any other
            continue
        ix = min(other[2], x2) - max(other[0], x1)
        iy = min(other[3], y2) - max(other[1], y1)
        if ix > 0 and iy > 0:
            clipped = np.array([max(other[0], x1), max(other[1], y1), min(other[2], x2), min(other[3], y2)])
            others.append(clipped - shift)
    return Source(kind, np.ascontiguousarray(crop), np.asarray(box, np.float64) - shift,
                  np.asarray(others, np.float64).reshape(-1, 4), origin,
                  np.asarray(extra, np.float64).reshape(-1, 4))


def load_sources(eval_root: Path) -> dict[str, list[Source]]:
    sources: dict[str, list[Source]] = {"face": [], "plate": []}
    plan = [("face", eval_root / "faces_dlib"), ("plate", eval_root / "plates_openalpr_us"),
            ("plate", eval_root / "plates_romania_eu")]
    for kind, folder in plan:
        rows = json.loads((folder / "annotations.json").read_text())
        for row in sorted(rows, key=lambda r: r["image"]):
            if row.get("kind") != kind or "image" not in row:
                continue
            img = _rgb(folder / row["image"])
            boxes = np.asarray(row["boxes"], np.float64).reshape(-1, 4)
            for box in boxes:
                src = _cut(kind, img, box, boxes, f"{folder.name}/{row['image']}")
                if src is not None:
                    sources[kind].append(src)
    for name, box in SKIMAGE_FACES.items():
        img = _skimage(name)
        src = _cut("face", img, np.asarray(box, np.float64), np.zeros((0, 4)), f"skimage.data.{name}")
        assert src is not None
        sources["face"].append(src)
    return sources


def _clip_frames(path: Path, wanted: tuple[int, ...]) -> list[np.ndarray]:
    import av

    out = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                out.append(frame.to_ndarray(format="rgb24"))
            if index >= max(wanted):
                break
    return out


def load_backgrounds(eval_root: Path) -> list[tuple[str, np.ndarray]]:
    out = []
    for name, frames in CLIP_BACKGROUNDS:
        got = _clip_frames(eval_root / "clips" / name, frames)
        if len(got) != len(frames):
            raise SystemExit(f"{eval_root / 'clips' / name}: expected frames {frames}, decoded {len(got)}")
        for index, rgb in zip(frames, got):
            out.append((f"clips/{name}#{index}", rgb))
    for name in SKIMAGE_BACKGROUNDS:
        out.append((f"skimage.data.{name}", _skimage(name)))
    return out


def fit_background(rgb: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    sw, sh = max(width, int(math.ceil(w * scale))), max(height, int(math.ceil(h * scale)))
    big = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    x0 = int(rng.integers(0, sw - width + 1))
    y0 = int(rng.integers(0, sh - height + 1))
    out = big[y0 : y0 + height, x0 : x0 + width]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def background_objects(rgb: np.ndarray, detectors: dict) -> dict[str, np.ndarray]:
    """What the package's detectors find on the bare background, in tiles at native resolution (at most 1920 px
    wide: a 4K background is looked at halved) and on the whole frame: real, unannotated faces and plates, to be
    ignored and not pasted over."""
    full_w = rgb.shape[1]
    if full_w > 1920:  # an upscaled background: its objects are at least 2x larger than at 1080p, detect at half
        factor = full_w / 1920
        rgb = cv2.resize(rgb, (1920, int(round(rgb.shape[0] / factor))), interpolation=cv2.INTER_AREA)
    else:
        factor = 1.0
    height, width = rgb.shape[:2]
    found: dict[str, list] = {}
    for kind, loaded in detectors.items():
        det = loaded.detector
        tile = 960 if kind == "face" else 640
        boxes = []
        windows = [(0, 0, width, height)]
        step = int(tile * 0.8)
        for y in range(0, max(1, height - tile + step), step):
            for x in range(0, max(1, width - tile + step), step):
                windows.append((x, y, min(width, x + tile), min(height, y + tile)))
        for x1, y1, x2, y2 in windows:
            part = rgb[y1:y2, x1:x2]
            w, h = det.input_size(x2 - x1, y2 - y1)[:2]
            small = cv2.resize(part, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != part.shape[1::-1] else part
            dets = det.detect(np.ascontiguousarray(small), x2 - x1, y2 - y1)
            for box, score in dets:
                if score >= BACKGROUND_THRESHOLD:
                    boxes.append([box[0] + x1, box[1] + y1, box[2] + x1, box[3] + y1])
        found[kind] = np.asarray(boxes, np.float64).reshape(-1, 4) * factor
    return found


@dataclass
class Placed:
    kind: str
    source: Source
    scale: float
    gain: float
    start: np.ndarray  # top-left of the scaled cut-out, frame pixels (float)
    velocity: np.ndarray  # px per frame

    def offset(self, frame: int) -> np.ndarray:
        return self.start + self.velocity * frame

    def size(self) -> tuple[int, int]:
        h, w = self.source.rgb.shape[:2]
        return max(1, int(round(w * self.scale))), max(1, int(round(h * self.scale)))

    def box(self, frame: int) -> np.ndarray:
        off = np.round(self.offset(frame))
        return self.source.box * self.scale + np.array([off[0], off[1], off[0], off[1]])

    def extras(self, frame: int) -> np.ndarray:
        off = np.round(self.offset(frame))
        return self.source.extra * self.scale + np.array([off[0], off[1], off[0], off[1]])

    def ignores(self, frame: int) -> np.ndarray:
        off = np.round(self.offset(frame))
        return self.source.others * self.scale + np.array([off[0], off[1], off[0], off[1]])

    def swept(self, frames: int) -> np.ndarray:
        """Bounding box of the cut-out over all frames."""
        w, h = self.size()
        a, b = self.offset(0), self.offset(max(0, frames - 1))
        return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]) + w, max(a[1], b[1]) + h])


def _overlaps(box: np.ndarray, others: list[np.ndarray], pad: float) -> bool:
    for o in others:
        if box[0] - pad < o[2] and o[0] < box[2] + pad and box[1] - pad < o[3] and o[1] < box[3] + pad:
            return True
    return False


def _scaled_cutout(p: Placed) -> tuple[np.ndarray, np.ndarray]:
    """The scaled RGB cut-out (gain applied) and its alpha: 1 over the object's box, falling linearly to 0 across
    the outer half of the margin."""
    w, h = p.size()
    interp = cv2.INTER_AREA if p.scale < 1 else cv2.INTER_CUBIC
    rgb = cv2.resize(p.source.rgb, (w, h), interpolation=interp).astype(np.float32) * p.gain
    box = p.source.box * p.scale
    xs, ys = np.arange(w) + 0.5, np.arange(h) + 0.5

    def ramp(coord: np.ndarray, lo: float, hi: float, extent: float) -> np.ndarray:
        # opaque over [lo, hi] and the inner half of each margin, then linear to 0 at the cut-out's edge
        a = np.ones_like(coord)
        if lo > 0:
            a = np.minimum(a, coord / (lo / 2))
        if extent > hi:
            a = np.minimum(a, (extent - coord) / ((extent - hi) / 2))
        return np.clip(a, 0, 1)

    ax = ramp(xs, box[0], box[2], w)
    ay = ramp(ys, box[1], box[3], h)
    alpha = np.minimum(ay[:, None], ax[None, :])
    return rgb, alpha.astype(np.float32)


def compose(background: np.ndarray, placed: list[Placed], frame: int, cache: dict) -> np.ndarray:
    out = background.astype(np.float32)
    height, width = out.shape[:2]
    for i, p in enumerate(placed):
        if i not in cache:
            cache[i] = _scaled_cutout(p)
        rgb, alpha = cache[i]
        off = np.round(p.offset(frame)).astype(int)
        h, w = alpha.shape
        x1, y1 = max(0, off[0]), max(0, off[1])
        x2, y2 = min(width, off[0] + w), min(height, off[1] + h)
        if x2 <= x1 or y2 <= y1:
            continue
        a = alpha[y1 - off[1] : y2 - off[1], x1 - off[0] : x2 - off[0], None]
        src = rgb[y1 - off[1] : y2 - off[1], x1 - off[0] : x2 - off[0]]
        out[y1:y2, x1:x2] = out[y1:y2, x1:x2] * (1 - a) + src * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def place(
    sources: dict[str, list[Source]], counts: dict[str, int], width: int, height: int, frames: int,
    max_speed: float, avoid: list[np.ndarray], rng: np.random.Generator,
) -> list[Placed]:
    """Random sizes (log-uniform), positions and straight drifts; no two swept cut-outs overlap (4 px apart),
    none overlaps a background object, every cut-out stays inside the frame on every frame."""
    placed: list[Placed] = []
    taken = [np.asarray(b, np.float64) for b in avoid]
    order = [k for k, n in counts.items() for _ in range(n)]
    rng.shuffle(order)
    for kind in order:
        pool = sources[kind]
        for _attempt in range(200):
            src = pool[int(rng.integers(len(pool)))]
            lo, hi = FACE_SIZES if kind == "face" else PLATE_WIDTHS
            target = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            bw, bh = src.box[2] - src.box[0], src.box[3] - src.box[1]
            scale = target / (max(bw, bh) if kind == "face" else bw)
            ch, cw = src.rgb.shape[:2]
            w, h = max(1, int(round(cw * scale))), max(1, int(round(ch * scale)))
            if w >= width // 2 or h >= height // 2:
                continue
            speed = rng.uniform(0, max_speed) if frames > 1 else 0.0
            angle = rng.uniform(0, 2 * np.pi)
            velocity = np.array([np.cos(angle), np.sin(angle)]) * speed
            travel = velocity * (frames - 1)
            xmin, xmax = max(0.0, -travel[0]), width - w - max(0.0, travel[0])
            ymin, ymax = max(0.0, -travel[1]), height - h - max(0.0, travel[1])
            if xmax <= xmin or ymax <= ymin:
                continue
            start = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
            p = Placed(kind, src, scale, float(rng.uniform(0.85, 1.15)), start, velocity)
            swept = p.swept(frames)
            if _overlaps(swept, taken, 4.0):
                continue
            taken.append(swept)
            placed.append(p)
            break
    return placed


def _rows_for(placed: list[Placed], frame: int, bg_objects: dict[str, np.ndarray], key: dict) -> list[dict]:
    rows = []
    for kind in ("face", "plate"):
        mine = [p for p in placed if p.kind == kind]
        boxes = [[round(float(v), 2) for v in p.box(frame)] for p in mine]
        boxes += [[round(float(v), 2) for v in b] for p in mine for b in p.extras(frame)]
        origins = [p.source.origin for p in mine] + [p.source.origin for p in mine for _ in p.source.extra]
        ignore = [[round(float(v), 2) for v in b] for p in mine for b in p.ignores(frame)]
        ignore += [[round(float(v), 2) for v in b] for b in bg_objects.get(kind, np.zeros((0, 4)))]
        sizes = [round(float(max(b[2] - b[0], b[3] - b[1]) if kind == "face" else b[2] - b[0]), 1) for b in boxes]
        rows.append({**key, "kind": kind, "boxes": boxes, "ignore": ignore,
                     "attrs": {"sizes": sizes, "sources": origins}})
    return rows


def _write_video(path: Path, frames: "Iterator[np.ndarray]", width: int, height: int, rate: int = 25) -> None:
    import av

    tmp = path.with_name(path.name + ".partial.mp4")
    time_base = Fraction(1, rate * 100)
    with av.open(str(tmp), mode="w") as out:
        vs = out.add_stream("libx264", rate=rate, options={"crf": "16", "preset": "veryfast"})
        vs.pix_fmt = "yuv420p"
        vs.height, vs.width = height, width
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i * 100, time_base
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
    os.replace(tmp, path)


def _finish(out: Path, rows: list[dict], meta: dict) -> None:
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    tmp = out / "annotations.json.partial"
    tmp.write_text(json.dumps(rows) + "\n")
    os.replace(tmp, out / "annotations.json")


def generate(resolution: str, out: Path, images: int, video_frames: int, seed: int, eval_root: Path,
             detectors: dict, video_clips: int = 1) -> tuple[Path, Path | None]:
    width, height = RESOLUTIONS[resolution]
    factor = width / 1920
    rng = np.random.default_rng(seed)
    sources = load_sources(eval_root)
    backgrounds = load_backgrounds(eval_root)
    meta = {"resolution": resolution, "width": width, "height": height, "seed": seed,
            "face_sizes_px": FACE_SIZES, "plate_widths_px": PLATE_WIDTHS,
            "sources": {k: len(v) for k, v in sources.items()}, "backgrounds": [n for n, _ in backgrounds]}
    counts = {"face": 12 if resolution != "4k" else 16, "plate": 8 if resolution != "4k" else 10}

    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    rows: list[dict] = []
    for i in range(images):
        name, bg_src = backgrounds[i % len(backgrounds)]
        bg = fit_background(bg_src, width, height, rng)
        bg_objects = background_objects(bg, detectors)
        avoid = [b for boxes in bg_objects.values() for b in boxes]
        placed = place(sources, counts, width, height, 1, 0.0, avoid, rng)
        img = compose(bg, placed, 0, {})
        rel = f"images/{i:03d}.jpg"
        cv2.imwrite(str(out / rel), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        for row in _rows_for(placed, 0, bg_objects, {"image": rel}):
            row["attrs"]["background"] = name
            rows.append(row)
        log.info("%s: %s on %s", rel, len(placed), name)
    _finish(out, rows, {**meta, "images": images, "per_image": counts})

    if video_frames <= 0:
        return out, None
    vout = out.with_name(out.name + "_video")
    if vout.exists():
        shutil.rmtree(vout)
    vout.mkdir(parents=True)
    clips = [b for b in backgrounds if b[0].startswith("clips/")]  # a clip frame: a camera's view
    vcounts = {"face": counts["face"] // 2 + 2, "plate": counts["plate"] // 2 + 1}
    vrows = []
    names = []
    for n in range(video_clips):
        # The first clip is drawn exactly as before --video-clips existed (same set for the same seed).
        name, bg_src = clips[int(rng.integers(len(clips)))]
        bg = fit_background(bg_src, width, height, rng)
        bg_objects = background_objects(bg, detectors)
        avoid = [b for boxes in bg_objects.values() for b in boxes]
        placed = place(sources, vcounts, width, height, video_frames, 3.0 * factor, avoid, rng)
        cache: dict = {}
        clip = f"small_{resolution}.mp4" if n == 0 else f"small_{resolution}_{n}.mp4"
        _write_video(vout / clip, (compose(bg, placed, f, cache) for f in range(video_frames)), width, height)
        for f in range(video_frames):
            for row in _rows_for(placed, f, bg_objects, {"video": clip, "frame": f}):
                row["attrs"]["background"] = name
                vrows.append(row)
        names.append(name)
        log.info("%s: %s on %s", clip, len(placed), name)
    _finish(vout, vrows, {**meta, "video_frames": video_frames, "video_clips": video_clips, "clip_backgrounds": names,
                          "objects": vcounts, "max_speed_px": 3.0 * factor})
    return out, vout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="1080p")
    ap.add_argument("--out", type=Path, default=None, help="image set folder (default .bench/small_<resolution>); "
                                                           "the video set goes to <out>_video")
    ap.add_argument("--images", type=int, default=24, help="images in the image set (default 24)")
    ap.add_argument("--video-frames", type=int, default=60, help="frames of the video set's clip (0: none)")
    ap.add_argument("--video-clips", type=int, default=1,
                    help="clips in the video set (default 1; each on its own background with its own objects: more "
                         "clips, more distinct objects to count)")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--eval", type=Path, default=EVAL, help="the development sets (default ../shared/eval)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("faces_dlib", "plates_openalpr_us", "plates_romania_eu", "clips"):
        if not (args.eval / name).exists():
            ap.error(f"{args.eval / name}: missing (the sources of the set)")
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    detectors = open_detectors(AnonymiseSettings(), threads=2)
    out = args.out or REPO / ".bench" / f"small_{args.resolution}"
    images, video = generate(args.resolution, out, args.images, args.video_frames, args.seed, args.eval, detectors,
                             args.video_clips)
    print(images)
    if video:
        print(video)
    return 0


if __name__ == "__main__":
    sys.exit(main())
