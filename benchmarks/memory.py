"""Where a worker's peak RSS goes: one fresh process per stage, each adding one part of the pipeline, on one clip.

    python benchmarks/memory.py CLIP [CLIP...] [--synth 1080p,4k] [--synth-frames 60] [--json] [--save FILE]

Stages (each its own process; peak RSS = VmHWM read by the process at its end, so nothing is carried over):

- ``imports``: Python with numpy, OpenCV, PyAV, ONNX Runtime and the package imported;
- ``detectors``: + both detectors opened (ONNX Runtime sessions, weights);
- ``arena``: + each detector run three times on every input size the pipeline gives it on this clip (the coarse
  pass's scaled frame, and the full-resolution pass on a whole frame, for plates also enlarged in tiles as the
  pipeline runs it): what ONNX Runtime's arena keeps for the rest of the worker's life;
- ``decode``: imports + the clip decoded by ``VideoReader`` (nothing kept), twice at once as the pipeline does
  (the detectors' decoder and the one that decodes again for redaction);
- ``media``: imports + ``VideoReader`` -> ``VideoWriter`` (the pipeline's encoder settings), nothing else;
- ``pipeline``: ``anonymise_file`` with default settings (detectors opened as the CLI does for one clip), plus the
  most decoded frames alive at once (counted as ``Frame`` objects; each holds one yuv420p frame).

The parts are not strictly additive (allocators reuse freed memory), but the increments say where it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_source import describe, maybe_reexec

REPO = Path(__file__).resolve().parent.parent
STAGES = ("imports", "detectors", "arena", "decode", "media", "pipeline")


def vm_hwm_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _open_detectors():
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    return open_detectors(AnonymiseSettings(), threads=os.cpu_count() or 1)


def _input_sizes(detectors: dict, width: int, height: int) -> list[tuple[str, int, int]]:
    """(kind, w, h) of every picture the pipeline gives a detector on a frame of this (display) size: the coarse
    pass's scaled frame, and the full-resolution pass's largest, the whole frame (cut in tiles above 1080p by
    ``detection.run_own_size``)."""
    out = []
    for kind, d in detectors.items():
        out.append((kind, *d.detector.input_size(width, height)))
        out.append((kind, width, height))
    return sorted(set(out))


def worker(stage: str, src: Path) -> dict:
    import anonymizer.pipelines.anonymise  # noqa: F401 - every library the pipeline imports
    import onnxruntime  # noqa: F401
    from anonymizer.heap import return_large_buffers

    return_large_buffers()  # as a worker does (anonymise_file, open_detectors)
    out: dict = {}
    if stage in ("detectors", "arena"):
        detectors = _open_detectors()
        if stage == "arena":
            import numpy as np

            from anonymizer.media.probe import probe
            from anonymizer.pipelines.detection import enlarged_for, run_fine, run_native

            info = probe(src)
            sizes = _input_sizes(detectors, info.width, info.height)
            # the full-resolution pass on the whole frame runs as the pipeline runs it (``detection.run_fine``): at
            # the picture's own size (above 1080p in tiles, ``run_own_size``) and, for a kind the pipeline enlarges
            # (plates), enlarged in tiles
            enlarged = enlarged_for(info.width, info.height, tuple(detectors))
            whole = {(k, w, h) for k, w, h in sizes if (w, h) == (info.width, info.height)}
            rng = np.random.default_rng(0)
            for _ in range(3):
                for kind, w, h in sizes:
                    picture = rng.integers(0, 255, (h, w, 3), np.uint8)
                    if (kind, w, h) in whole:
                        run_fine(detectors[kind], picture, kind in enlarged)
                    else:
                        run_native(detectors[kind], picture)
            out["sizes"] = [f"{k} {w}x{h}" + (" (own size and enlarged, in tiles)" if (k, w, h) in whole and k in enlarged
                                              else " (own size, in tiles above 1080p)" if (k, w, h) in whole else "")
                            for k, w, h in sizes]
    elif stage == "decode":
        import threading

        from anonymizer.media.reader import VideoReader

        def decode(threads: int | None) -> None:
            with VideoReader(src, threads=threads, queue_size=2) as r:
                for _ in r.frames():
                    pass

        second = threading.Thread(target=decode, args=(1,))
        second.start()
        decode(None)
        second.join()
    elif stage == "media":
        from anonymizer.media.reader import VideoReader
        from anonymizer.media.writer import VideoWriter

        with tempfile.TemporaryDirectory() as tmp, VideoReader(src, queue_size=2) as r:
            writer = None
            for f in r.frames():
                if writer is None:
                    writer = VideoWriter(Path(tmp) / "out.mp4", r.width, r.height, r.time_base, r.rate)
                writer.write_frame(f.av_frame)
            assert writer is not None
            writer.commit()
    elif stage == "pipeline":
        import weakref

        from anonymizer.media.reader import VideoReader
        from anonymizer.pipelines import anonymise
        from anonymizer.settings import AnonymiseSettings

        alive = {"now": 0, "most": 0}

        def gone() -> None:
            alive["now"] -= 1

        class Counting(VideoReader):
            def frames(self):  # type: ignore[override]
                for frame in super().frames():
                    alive["now"] += 1
                    alive["most"] = max(alive["most"], alive["now"])
                    weakref.finalize(frame, gone)
                    yield frame

        anonymise.VideoReader = Counting  # type: ignore[misc]
        detectors = _open_detectors()
        with tempfile.TemporaryDirectory() as tmp:
            report = anonymise.anonymise_file(src, Path(tmp) / "out.mp4", AnonymiseSettings(), detectors)
        out.update(frames=report.frames, frames_alive_max=alive["most"], passes=report.passes)
    out["vm_hwm_mib"] = round(vm_hwm_mib(), 1)
    return out


def run_stage(stage: str, src: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", stage, str(src)], capture_output=True, text=True,
                          cwd=REPO, env=os.environ.copy())
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][-300:]}
    return json.loads(lines[-1])


def render(clip: str, res: dict) -> str:
    lines = [f"{clip}", f"  {'stage':<10} {'peak RSS':>10} {'increment':>10}  notes"]
    prev = {"imports": None, "detectors": "imports", "arena": "detectors", "decode": "imports", "media": "imports",
            "pipeline": None}
    for stage in STAGES:
        r = res[stage]
        if "error" in r:
            lines.append(f"  {stage:<10} error: {r['error']}")
            continue
        base = prev[stage]
        inc = f"{r['vm_hwm_mib'] - res[base]['vm_hwm_mib']:+.0f}" if base and "vm_hwm_mib" in res[base] else ""
        notes = ""
        if stage == "arena":
            notes = "inputs: " + ", ".join(r["sizes"])
        elif stage == "decode":
            notes = "two VideoReaders at once (second one thread), nothing kept"
        elif stage == "media":
            notes = "VideoReader -> VideoWriter"
        elif stage == "pipeline":
            notes = f"anonymise_file, {r['frames']} frames, {r['passes']} pass(es), decoded frames alive at most {r['frames_alive_max']}"
        lines.append(f"  {stage:<10} {r['vm_hwm_mib']:>6.0f} MiB {inc:>10}  {notes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--worker":
        print(json.dumps(worker(argv[1], Path(argv[2]))))
        return 0
    maybe_reexec([sys.argv[0], *argv])  # --ref REV: measure a committed revision
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", type=Path, help="video files")
    ap.add_argument("--synth", default="", help="synthetic clips of benchmarks/throughput.py: 720p,1080p,4k")
    ap.add_argument("--synth-frames", type=int, default=60, help="frames of each synthetic clip (default 60)")
    ap.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to run (default: all)")
    ap.add_argument("--json", action="store_true", help="JSON on stdout instead of the table")
    ap.add_argument("--save", type=Path, default=None, help="also write the JSON to this file")
    ap.add_argument("--ref", default=None, help="measure this committed revision instead of the working tree")
    args = ap.parse_args(argv)
    clips = list(args.clips)
    if args.synth:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from throughput import synth_clip

        clips += [synth_clip(label.strip(), args.synth_frames) for label in args.synth.split(",") if label.strip()]
    stages = [s for s in args.stages.split(",") if s]
    results = {"anonymizer": describe(), "clips": {}}
    for clip in clips:
        res = {}
        for stage in STAGES:
            res[stage] = run_stage(stage, clip) if stage in stages else {"error": "not run"}
            print(f"# {clip.name}: {stage} {res[stage]}", file=sys.stderr, flush=True)
        results["clips"][str(clip)] = res
        if not args.json:
            print(render(clip.name, res), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    if args.save:
        args.save.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
