"""Model-variant harness: build float32 and int8 variants of the prepared models, time them, and measure ONNX
Runtime's memory settings. Recall of a variant is measured with ``quality.py`` pointed at the variant's folder
(``ANONYMIZER_MODELS_DIR=.bench/models/VARIANT``); see benchmarks/README.md.

    python benchmarks/models.py build                     # .bench/models/{fp16,fp32,int8,...}/ with manifest + locks
    python benchmarks/models.py speed [--threads 2] [--repeat 10]   # ms per run, interleaved, best and median
    python benchmarks/models.py memory                    # peak RSS per session setting at 1080p and 4K

Calibration (int8) uses frames made here only: scikit-image's bundled public-domain photos and the synthetic
scenes of ``anonymizer.imaging.scene`` (a real face photo and a rendered plate over a real background), scaled as
the pipeline scales its keyframes. Never ../shared/eval, which is for evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / ".bench" / "models"

from anonymizer.inference import face, plate  # noqa: E402
from anonymizer.inference.manifest import installed, load_manifest, sha256_file  # noqa: E402


# ----------------------------------------------------------------------------------------------- calibration


def calibration_images() -> Iterator[np.ndarray]:
    """RGB uint8 images: scikit-image's bundled photos (those that need no download) and synthetic scenes at
    720p and 1080p (face and plate at several positions and sizes)."""
    import skimage.data as data

    from anonymizer.imaging.scene import scene_frames

    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "horse", "immunohistochemistry",
                 "retina", "brick", "grass", "gravel", "logo", "page", "text", "clock", "moon"):
        try:
            img = getattr(data, name)()
        except Exception:  # noqa: BLE001 - an image that would need a download is skipped
            continue
        if img.dtype != np.uint8:
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        yield np.ascontiguousarray(img[..., :3])
    for w, h in ((1280, 720), (1920, 1080)):
        for i, (frame, _truth) in enumerate(scene_frames(w, h, 60)):
            if i % 6 == 0:
                yield frame


def _fit(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)


def face_blob(rgb: np.ndarray, src_size: tuple[int, int] = (1920, 1080)) -> np.ndarray:
    w, h = face.input_size(*src_size, 960)
    return face.to_blob(_fit(rgb, w, h))


def plate_feed(rgb: np.ndarray, src_size: tuple[int, int] = (1920, 1080), dtype: type = np.float32) -> dict:
    rw, rh, cw, ch = plate.input_size(*src_size, 640)
    canvas, _, _ = plate.letterbox(_fit(rgb, rw, rh), cw, ch)
    anchors, strides = plate.anchor_grid(cw, ch, dtype)
    return {"images": plate.to_blob(canvas, dtype), "anchors": anchors, "strides": strides}


class _Reader:
    def __init__(self, feeds: list[dict]) -> None:
        self.feeds = iter(feeds)

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


# ----------------------------------------------------------------------------------------------- variants


def _write_variant(name: str, files: dict[str, Path], prepare: dict[str, str]) -> Path:
    """A models folder usable as ANONYMIZER_MODELS_DIR: the manifest (prepare names changed), model files, locks."""
    import tomllib

    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    manifest = (REPO / "models" / "manifest.toml").read_text()
    specs = tomllib.loads(manifest)["models"]
    for model, spec in specs.items():
        new = prepare.get(model, spec["prepare"])
        manifest = manifest.replace(f'prepare = "{spec["prepare"]}"', f'prepare = "{new}"', 1) if new != spec["prepare"] else manifest
        target = folder / f"{model}.onnx"
        if target.exists() or target.is_symlink():
            target.unlink()
        shutil.copyfile(files[model], target)
        lock = {"name": model, "package": spec["package"], "member": spec["member"], "source_sha256": spec["sha256"],
                "prepare": new, "prepared_sha256": sha256_file(target)}
        (folder / f"{model}.lock.json").write_text(json.dumps(lock, indent=2) + "\n")
    (folder / "manifest.toml").write_text(manifest)
    return folder


def quantise(src: Path, dst: Path, feeds: list[dict], method: str, exclude_tail: list[str] | None = None) -> None:
    """Static int8 QDQ quantisation (per-channel weights, uint8 activations) calibrated on ``feeds``."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    import onnx
    from onnx import version_converter

    pre = dst.with_suffix(".pre.onnx")
    model = onnx.load(str(src))
    if model.opset_import[0].version < 13:  # per-channel QDQ needs opset 13 (CenterFace ships opset 9)
        model = version_converter.convert_version(model, 13)
    onnx.save(model, str(pre))
    quant_pre_process(str(pre), str(pre), skip_symbolic_shape=True)
    quantize_static(
        str(pre), str(dst), _Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method={"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                          "entropy": CalibrationMethod.Entropy}[method],
        nodes_to_exclude=exclude_tail or [],
        extra_options={"CalibMovingAverage": method == "minmax"},
    )
    pre.unlink(missing_ok=True)


def _yolo_tail(model_path: Path) -> list[str]:
    """Nodes after the detection heads' last convolutions (DFL softmax/conv, anchor arithmetic, sigmoid of the
    class score): kept in float so box coordinates and scores are not rounded to 8 bits."""
    import onnx

    m = onnx.load(str(model_path), load_external_data=False)
    return [n.name for n in m.graph.node if "/model.22/" in n.name and ("dfl" in n.name or "cv" not in n.name)]


def build(args: argparse.Namespace) -> int:
    import onnx

    from anonymizer.inference.prepare import float16_to_float32

    specs = load_manifest()
    cf = installed(specs["centerface"]).path
    pd16 = installed(specs["platedet"]).path
    OUT.mkdir(parents=True, exist_ok=True)
    pd32 = OUT / "platedet_fp32.onnx"
    onnx.save(float16_to_float32(onnx.load(str(pd16))), str(pd32))
    _write_variant("fp16", {"centerface": cf, "platedet": pd16}, {})
    _write_variant("fp32", {"centerface": cf, "platedet": pd32}, {"platedet": "yolov8-boxes-float32"})
    images = list(calibration_images())
    print(f"calibration: {len(images)} images", file=sys.stderr)
    sizes = [(1920, 1080), (1280, 720)]
    for method in args.methods.split(","):
        started = time.perf_counter()
        pd8 = OUT / f"platedet_int8_{method}.onnx"
        quantise(pd32, pd8, [plate_feed(im, sizes[i % 2]) for i, im in enumerate(images)], method, _yolo_tail(pd32))
        cf8 = OUT / f"centerface_int8_{method}.onnx"
        quantise(cf, cf8, [{"input.1": face_blob(im, sizes[i % 2])} for i, im in enumerate(images)], method)
        _write_variant(f"int8-{method}", {"centerface": cf8, "platedet": pd8},
                       {"centerface": f"centerface-int8-{method}", "platedet": f"yolov8-boxes-int8-{method}"})
        _write_variant(f"int8-{method}-plate", {"centerface": cf, "platedet": pd8},
                       {"platedet": f"yolov8-boxes-int8-{method}"})
        _write_variant(f"int8-{method}-face", {"centerface": cf8, "platedet": pd16},
                       {"centerface": f"centerface-int8-{method}"})
        print(f"int8 {method}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------------- speed


def _session(path: Path, threads: int, **opts: object):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for k, v in opts.items():
        setattr(o, k, v)
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def _feed(kind: str, session, w: int, h: int) -> dict:
    rng = np.random.default_rng(0)
    first = session.get_inputs()[0]
    dtype = np.float16 if first.type == "tensor(float16)" else np.float32
    if kind == "face":
        return {first.name: (rng.random((1, 3, h, w)) * 255).astype(np.float32)}
    anchors, strides = plate.anchor_grid(w, h, dtype)
    return {first.name: rng.random((1, 3, h, w)).astype(dtype), "anchors": anchors, "strides": strides}


def speed(args: argparse.Namespace) -> int:
    """ms per run (wall and CPU) of each model variant at each size, interleaved round by round."""
    variants = [v for v in args.variants.split(",") if (OUT / v).exists()]
    todo = {"face": [(960, 544), (1920, 1088)], "plate": [(640, 384), (640, 640)]}
    rows = []
    for kind, sizes in todo.items():
        name = "centerface" if kind == "face" else "platedet"
        paths = {}
        for v in variants:
            p = (OUT / v / f"{name}.onnx").resolve()
            if sha256_file(p) not in {sha256_file(q) for q in paths.values()}:
                paths[v] = p
        sessions = {v: _session(p, args.threads) for v, p in paths.items()}
        for w, h in sizes:
            feeds = {v: _feed(kind, s, w, h) for v, s in sessions.items()}
            wall: dict[str, list[float]] = {v: [] for v in sessions}
            cpu: dict[str, list[float]] = {v: [] for v in sessions}
            for v, s in sessions.items():
                s.run(None, feeds[v])  # warm-up
            for _ in range(args.repeat):
                for v, s in sessions.items():
                    c0, t0 = time.process_time(), time.perf_counter()
                    s.run(None, feeds[v])
                    wall[v].append((time.perf_counter() - t0) * 1000)
                    cpu[v].append((time.process_time() - c0) * 1000)
            for v in sessions:
                rows.append({"model": name, "variant": v, "size": f"{w}x{h}", "threads": args.threads,
                             "best_ms": round(min(wall[v]), 1), "median_ms": round(float(np.median(wall[v])), 1),
                             "cpu_ms_median": round(float(np.median(cpu[v])), 1)})
                print(f"{name:<10} {v:<22} {w}x{h:<5} threads {args.threads}: best {min(wall[v]):7.1f} ms, "
                      f"median {np.median(wall[v]):7.1f} ms, CPU median {np.median(cpu[v]):7.1f} ms", flush=True)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


# ----------------------------------------------------------------------------------------------- memory

MEMORY_SETTINGS = {
    "default (arena on, pattern on)": {},
    "arena off": {"enable_cpu_mem_arena": False},
    "arena off, pattern off": {"enable_cpu_mem_arena": False, "enable_mem_pattern": False},
    "pattern off": {"enable_mem_pattern": False},
}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_child(setting: str, src_w: int, src_h: int, threads: int) -> dict:
    """In a fresh process: RSS after imports, after opening both sessions, and peak after running each detector
    on keyframe-sized inputs for a ``src_w`` x ``src_h`` source (both the default and the native face size)."""
    import onnxruntime  # noqa: F401

    out = {"setting": setting, "source": f"{src_w}x{src_h}", "imports_mib": _current_rss_mib()}
    opts = MEMORY_SETTINGS[setting]
    specs = load_manifest()
    fs = _session(installed(specs["centerface"]).path, threads, **opts)
    ps = _session(installed(specs["platedet"]).path, threads, **opts)
    out["sessions_mib"] = _current_rss_mib()
    times = []
    fw, fh = face.input_size(src_w, src_h, 960)
    rw, rh, cw, ch = plate.input_size(src_w, src_h, 640)
    for _ in range(3):
        t0 = time.perf_counter()
        fs.run(None, _feed("face", fs, fw, fh))
        ps.run(None, _feed("plate", ps, cw, ch))
        times.append(time.perf_counter() - t0)
    out["after_runs_mib"] = _current_rss_mib()
    out["peak_mib"] = _rss_mib()
    out["ms_per_keyframe_best"] = round(min(times) * 1000, 1)
    return out


def memory(args: argparse.Namespace) -> int:
    rows = []
    for src in args.sources.split(","):
        w, h = (int(x) for x in src.split("x"))
        for setting in MEMORY_SETTINGS:
            cmd = [sys.executable, __file__, "memory-child", setting, str(w), str(h), str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if proc.returncode:
                print(proc.stderr[-2000:], file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{row['source']:<10} {setting:<32} imports {row['imports_mib']:6.0f}  sessions "
                  f"{row['sessions_mib']:6.0f}  after runs {row['after_runs_mib']:6.0f}  peak {row['peak_mib']:6.0f} MiB"
                  f"  keyframe {row['ms_per_keyframe_best']:6.1f} ms", flush=True)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "memory-child":
        setting, w, h, threads = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        print(json.dumps(memory_child(setting, w, h, threads)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="make the variants in .bench/models/")
    b.add_argument("--methods", default="minmax", help="int8 calibration methods: minmax,percentile,entropy")
    s = sub.add_parser("speed", help="ms per run of each variant")
    s.add_argument("--variants", default="fp16,fp32,int8-minmax")
    s.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    s.add_argument("--repeat", type=int, default=10)
    s.add_argument("--save", type=Path)
    m = sub.add_parser("memory", help="peak RSS per ONNX Runtime memory setting")
    m.add_argument("--sources", default="1920x1080,3840x2160")
    m.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    m.add_argument("--save", type=Path)
    args = ap.parse_args(argv)
    return {"build": build, "speed": speed, "memory": memory}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
