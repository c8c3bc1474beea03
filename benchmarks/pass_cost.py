"""CPU of the plates' full-resolution pass, and of the whole clip, with each ``plate_fine`` choice, in one run.

Each choice anonymises the same clip (default settings otherwise) with the detectors on one ONNX Runtime thread,
so that the calling thread's CPU time (``time.thread_time``) around the pass is the pass's CPU:

    PYTHONPATH=. .venv/bin/python benchmarks/pass_cost.py .bench/clips/synth_1080p_150.mp4 .bench/clips/traffic_mihailrc_150.mp4

Prints, per clip and choice: the pass's CPU-s, its runs (whole frames, crops), the whole process's CPU-s, and the
ratio of each choice's pass CPU to ``platedet``'s (today's enlarged pass).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

CHOICES = ("platedet", "platenet")


def measure(clip: Path, choice: str) -> dict:
    from anonymizer.pipelines import detection
    from anonymizer.pipelines.anonymise import anonymise_file
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    settings = AnonymiseSettings(plate_fine=choice)
    detectors = open_detectors(settings, threads=1)
    spent = {"plate": 0.0, "face": 0.0}
    original = detection.FrameDetector._run_fine

    def timed(self, frame, kind, rects):  # type: ignore[no-untyped-def]
        start = time.thread_time()
        try:
            return original(self, frame, kind, rects)
        finally:
            spent[kind] += time.thread_time() - start

    detection.FrameDetector._run_fine = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.process_time()
            report = anonymise_file(clip, Path(tmp) / clip.name, settings, detectors)
            total = time.process_time() - start
    finally:
        detection.FrameDetector._run_fine = original
    fine = report.fine.get("plate", {}) if report.fine else {}
    return {"clip": clip.name, "choice": choice, "plate_fine_cpu_s": spent["plate"], "process_cpu_s": total,
            "frames": report.frames, "runs": {k: v for k, v in fine.items() if k in ("keyframes", "crops", "whole_frame_runs")}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--choices", default=",".join(CHOICES))
    args = ap.parse_args(argv)
    print("| clip | plate_fine | frames | pass CPU-s | pass runs | process CPU-s | pass / platedet's |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for clip in args.clips:
        rows = [measure(clip, c) for c in args.choices.split(",")]
        base = next((r["plate_fine_cpu_s"] for r in rows if r["choice"] == "platedet"), None)
        for r in rows:
            ratio = f"{r['plate_fine_cpu_s'] / base:.3f}" if base else "-"
            print(f"| {r['clip']} | {r['choice']} | {r['frames']} | {r['plate_fine_cpu_s']:.1f} | {r['runs']} | "
                  f"{r['process_cpu_s']:.1f} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
