"""Throughput harness: our pipeline beside the decode+encode ceiling and deface, on the same clip, in one run.

For every clip it runs, each in its own subprocess (so each has its own peak RSS, read with ``os.wait4``):

- ceiling: PyAV decode (threaded) straight into libx264 (CRF 23, preset veryfast, threads auto), no detection,
  no copies to numpy: the fastest any anonymiser built on PyAV + libx264 could be;
- media: our own VideoReader -> VideoWriter (YUV planes to numpy and back), no detection, no redaction;
- ours: ``anonymise_file`` with the default settings, detectors opened once before the clock starts (model
  loading excluded, the verification and residual check included), and again with ``residual_samples=0``;
- deface: ``deface==1.5.0`` from its own virtualenv (``.bench/deface-venv``), its CLI with its defaults (faces
  only), timed wall-clock for the whole command (start-up and model loading included).

    python benchmarks/throughput.py CLIP [CLIP...] [--synth 720p,1080p] [--frames N | --seconds S] [--json]

Clips longer than ``--frames``/``--seconds`` are cut first: their first frames are transcoded (libx264, CRF 16)
into ``.bench/clips/``. Synthetic clips (``--synth``) hold a real face photo and a rendered plate moving over a
real background (``anonymizer.imaging.scene``), 25 fps.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from bench_source import describe, maybe_reexec

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / ".bench"
CLIPS = BENCH / "clips"
DEFACE_VENV = BENCH / "deface-venv"
SYNTH_SIZES = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
# Fixed-camera clips: 60 s at 25 fps of a still background with sensor noise; a person (the astronaut's face)
# crosses the frame in 3 s, from 24 s to 27 s. Their length is fixed (--synth-frames does not apply).
STATIC_SYNTH = {"static1080p": (1920, 1080)}
STATIC_FRAMES, STATIC_VISIBLE = 1500, (600, 675)


# ----------------------------------------------------------------------------------------------------- workers
# Each worker runs in its own process and prints one JSON line: {"frames", "seconds", ...}.


def _worker_ceiling(src: Path, dst: Path) -> dict:
    import av

    started = time.perf_counter()
    frames = 0
    with av.open(str(src)) as inp, av.open(str(dst), mode="w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate, options={"crf": "23", "preset": "veryfast"})
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        vout.thread_type = "AUTO"
        for frame in inp.decode(vin):
            if frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            frame.pict_type = av.video.frame.PictureType.NONE
            for packet in vout.encode(frame):
                out.mux(packet)
            frames += 1
        for packet in vout.encode(None):
            out.mux(packet)
    return {"frames": frames, "seconds": time.perf_counter() - started}


def _worker_media(src: Path, dst: Path) -> dict:
    from anonymizer.media.reader import VideoReader
    from anonymizer.media.writer import VideoWriter

    started = time.perf_counter()
    with VideoReader(src) as reader:
        writer = None
        for frame in reader.frames():
            if writer is None:
                writer = VideoWriter(dst, reader.width, reader.height, reader.time_base, reader.rate,
                                     codec="libx264", crf=23, preset="veryfast")
            if hasattr(writer, "write_frame"):  # frames redacted in place and encoded as decoded
                writer.write_frame(frame.av_frame)
            else:  # planes copied to numpy and back
                writer.write(frame.planes, frame.pts)
            frame.av_frame = None
        assert writer is not None
        writer.commit()
        frames = writer.frames
    return {"frames": frames, "seconds": time.perf_counter() - started}


def _worker_ours(src: Path, dst: Path, residual_samples: int | None, copy: bool = False) -> dict:
    from anonymizer.pipelines.anonymise import anonymise_file
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    settings = AnonymiseSettings().with_(residual_samples=residual_samples, copy_unchanged=copy or None)
    load_started = time.perf_counter()
    # As the CLI does for one clip with one worker: detectors opened once, one intra-op thread per core.
    detectors = open_detectors(settings, threads=os.cpu_count() or 1)
    load_s = time.perf_counter() - load_started
    started = time.perf_counter()
    report = anonymise_file(src, dst, settings, detectors, overwrite=True)
    seconds = time.perf_counter() - started
    return {"frames": report.frames, "seconds": seconds, "model_load_s": load_s, "keyframes": report.keyframes,
            "detections": report.detections, "frames_with_regions": report.frames_with_regions,
            "residual_samples": settings.residual_samples, "possible_leaks": len(report.possible_leaks),
            "static_keyframes": getattr(report, "static_keyframes", None), "copy": getattr(report, "copy", None)}


def vm_hwm_mib() -> float | None:
    """This process's peak RSS since its exec (VmHWM). ru_maxrss is not used for our own workers: Linux carries
    it across exec, so a child forked from a harness that had just made a large synthetic clip reports the
    harness's peak instead of its own."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def worker_main(argv: list[str]) -> int:
    mode, src, dst = argv[0], Path(argv[1]), Path(argv[2])
    if mode == "ceiling":
        out = _worker_ceiling(src, dst)
    elif mode == "media":
        out = _worker_media(src, dst)
    elif mode == "ours":
        out = _worker_ours(src, dst, None)
    elif mode == "ours-noresidual":
        out = _worker_ours(src, dst, 0)
    elif mode == "ours-copy":
        out = _worker_ours(src, dst, None, copy=True)
    else:
        raise SystemExit(f"unknown worker {mode}")
    out["vm_hwm_mib"] = vm_hwm_mib()
    print(json.dumps(out))
    return 0


# ----------------------------------------------------------------------------------------------------- running


def run_child(cmd: list[str], timeout: float | None = None) -> dict:
    """Run a command; wall-clock seconds, exit status, peak RSS (MiB, the child and its waited-for children),
    and the last stdout line parsed as JSON when it is JSON."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO)
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    result: dict = {"wall_s": wall, "rc": proc.returncode, "peak_rss_mib": usage.ru_maxrss / 1024,
                    "cpu_s": usage.ru_utime + usage.ru_stime}
    lines = [ln for ln in stdout.strip().splitlines() if ln.strip()]
    if lines:
        try:
            result.update(json.loads(lines[-1]))
        except json.JSONDecodeError:
            pass
    if result.get("vm_hwm_mib"):
        result["peak_rss_mib"] = result["vm_hwm_mib"]
    if proc.returncode != 0:
        result["error"] = (stderr.strip().splitlines() or ["?"])[-1][-300:]
    return result


def probe_clip(path: Path) -> dict:
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate
        frames = vs.frames
        if not frames:
            frames = sum(1 for _ in c.demux(vs) if _.size)
        return {"width": vs.codec_context.width, "height": vs.codec_context.height, "codec": vs.codec_context.name,
                "rate": float(rate) if rate else None, "frames": frames}


def cut_clip(src: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``src``, transcoded (libx264 CRF 16, timestamps kept) into .bench/clips/."""
    import av

    dst = CLIPS / f"cut_{src.stem}_{frames}.mp4"
    if dst.exists():
        return dst
    CLIPS.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name("." + dst.name)
    with av.open(str(src)) as inp, av.open(str(tmp), mode="w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate, options={"crf": "16", "preset": "veryfast"})
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        for i, frame in enumerate(inp.decode(vin)):
            if i >= frames:
                break
            frame = frame.reformat(format="yuv420p")
            frame.pict_type = av.video.frame.PictureType.NONE
            for packet in vout.encode(frame):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)
    os.replace(tmp, dst)
    return dst


def synth_clip(label: str, frames: int) -> Path:
    from anonymizer.imaging.scene import scene_frames
    from anonymizer.media.synth import write_video

    if label in STATIC_SYNTH:
        return static_clip(label)
    width, height = SYNTH_SIZES[label]
    dst = CLIPS / f"synth_{width}x{height}_{frames}.mp4"
    if not dst.exists():
        CLIPS.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(".tmp_" + dst.name)
        write_video(tmp, (f for f, _truth in scene_frames(width, height, frames)), rate=Fraction(25))
        os.replace(tmp, dst)
    return dst


def static_clip(label: str) -> Path:
    """A fixed-camera clip (``STATIC_SYNTH``): real background, light sensor noise, a face crossing for 3 s. Made
    once with the working tree's generator (a --ref older than the generator reuses it)."""
    width, height = STATIC_SYNTH[label]
    dst = CLIPS / f"static_{width}x{height}_{STATIC_FRAMES}.mp4"
    if not dst.exists():
        from anonymizer.imaging.scene import static_scene_frames
        from anonymizer.media.synth import write_video

        CLIPS.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(".tmp_" + dst.name)
        frames = static_scene_frames(width, height, STATIC_FRAMES, STATIC_VISIBLE)
        write_video(tmp, (f for f, _truth in frames), rate=Fraction(25))
        os.replace(tmp, dst)
    return dst


def deface_cmd(src: Path, dst: Path) -> list[str]:
    return [str(DEFACE_VENV / "bin" / "deface"), str(src), "-o", str(dst)]


def deface_version() -> str | None:
    exe = DEFACE_VENV / "bin" / "deface"
    if not exe.exists():
        return None
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip() or None


def bench_clip(path: Path, label: str, skip: set[str], timeout: float, repeat: int = 1,
               deface_repeat: int = 1) -> dict:
    """Time every run on one clip; with ``repeat`` > 1 the runs are interleaved round by round and the fastest
    trial of each is kept (the others are listed): on a shared machine the best trial is the least disturbed."""
    info = probe_clip(path)
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        t = Path(tmp)
        plan = [
            ("ceiling", me + ["ceiling", str(path), str(t / "ceiling.mp4")]),
            ("media", me + ["media", str(path), str(t / "media.mp4")]),
            ("ours", me + ["ours", str(path), str(t / "ours.mp4")]),
            ("ours_noresidual", me + ["ours-noresidual", str(path), str(t / "ours0.mp4")]),
            ("ours_copy", me + ["ours-copy", str(path), str(t / "ours_copy.mp4")]),
            ("deface", deface_cmd(path, t / "deface.mp4")),
        ]
        for round_ in range(max(repeat, deface_repeat)):
            for name, cmd in plan:
                if name in skip or (name == "deface" and not Path(cmd[0]).exists()):
                    continue
                if round_ >= (deface_repeat if name == "deface" else repeat):
                    continue
                load = os.getloadavg()[0]
                print(f"# {label}: {name} (trial {round_ + 1}) ...", file=sys.stderr, flush=True)
                res = run_child(cmd, timeout)
                res["loadavg_before"] = round(load, 2)
                if name == "deface":
                    res["frames"] = info["frames"]
                    res["seconds"] = res["wall_s"]  # the whole command: start-up and model loading included
                frames = res.get("frames") or 0
                res["fps"] = frames / res["seconds"] if res.get("seconds") and not res["rc"] else None
                res["fps_whole_process"] = frames / res["wall_s"] if res["wall_s"] and not res["rc"] else None
                # Frames per CPU-second of the whole process (start-up included): less sensitive than wall-clock
                # to other work on the machine.
                res["frames_per_cpu_s"] = frames / res["cpu_s"] if res["cpu_s"] and not res["rc"] else None
                print(f"#   {res.get('fps') or 0:.2f} fps, {res['wall_s']:.1f} s wall, {res['cpu_s']:.1f} cpu-s, "
                      f"rc {res['rc']}" + (f" ({res['error']})" if res.get("error") else ""),
                      file=sys.stderr, flush=True)
                prev = runs.get(name)
                trials = (prev.pop("trials") if prev else []) + [
                    {k: res.get(k) for k in ("fps", "wall_s", "cpu_s", "peak_rss_mib", "loadavg_before", "rc")}]
                best = prev if prev and (prev.get("fps") or 0) >= (res.get("fps") or 0) else res
                best["trials"] = trials
                best["peak_rss_mib_max"] = max(tr["peak_rss_mib"] for tr in trials)
                runs[name] = best

    def ratio(a: str, b: str, key: str = "fps") -> float | None:
        fa, fb = runs.get(a, {}).get(key), runs.get(b, {}).get(key)
        return fa / fb if fa and fb else None

    return {
        "clip": label, "path": str(path), **info, "runs": runs,
        "ratios": {
            "ours/ceiling": ratio("ours", "ceiling"),
            "ours_noresidual/ceiling": ratio("ours_noresidual", "ceiling"),
            "ours_copy/ceiling": ratio("ours_copy", "ceiling"),
            "ours/ceiling per cpu-s": ratio("ours", "ceiling", "frames_per_cpu_s"),
            "ours_copy/ceiling per cpu-s": ratio("ours_copy", "ceiling", "frames_per_cpu_s"),
            "ours/deface": ratio("ours", "deface"),
            "ours_noresidual/deface": ratio("ours_noresidual", "deface"),
            "media/ceiling": ratio("media", "ceiling"),
            "ours/deface per cpu-s": ratio("ours", "deface", "frames_per_cpu_s"),
        },
    }


# ----------------------------------------------------------------------------------------------------- batches


def _process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _thread_states(pid: int) -> list[str]:
    states = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return states
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                states.append(fh.read().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            pass
    return states


def run_sampled(cmd: list[str], env: dict, interval: float = 0.1) -> dict:
    """Run a command and sample its process tree's threads every ``interval`` s: threads alive (all processes)
    and threads running or runnable (state R) at each sample; wall and CPU seconds (children included)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=env)
    alive, running, per_process = [], [], 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        tree = _process_tree(proc.pid)
        states = {p: _thread_states(p) for p in tree}
        alive.append(sum(len(v) for v in states.values()))
        running.append(sum(st.count("R") for st in states.values()))
        per_process = max([per_process, *(len(v) for v in states.values())])
        time.sleep(interval)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    rc = os.waitstatus_to_exitcode(status)
    return {"wall_s": wall, "rc": rc, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib_largest_process": usage.ru_maxrss / 1024,
            "threads_alive_max": max(alive, default=0), "threads_one_process_max": per_process,
            "running_max": max(running, default=0),
            "running_mean": sum(running) / len(running) if running else 0.0,
            "running_p95": sorted(running)[int(0.95 * (len(running) - 1))] if running else 0,
            "samples": len(running), "error": (stderr.strip().splitlines() or [""])[-1][-300:] if rc else ""}


def bench_batch(clip: Path, copies: int, jobs: list[int], repeat: int, timeout: float) -> dict:
    """``anonymizer anonymise`` on a folder of ``copies`` copies of ``clip`` with each ``-j`` (0: the default),
    interleaved, best wall time of ``repeat`` trials kept, with the threads its processes used."""
    info = probe_clip(clip)
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="batch-") as tmp:
        batch = Path(tmp) / "batch"
        batch.mkdir()
        for i in range(copies):
            shutil.copyfile(clip, batch / f"clip{i:02d}{clip.suffix}")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)])))
        for round_ in range(repeat):
            for j in jobs:
                cmd = [sys.executable, "-c", "from anonymizer.cli.main import main; main()", "anonymise", str(batch),
                       "-o", str(Path(tmp) / f"out-j{j}"), "-j", str(j), "--overwrite", "--json"]
                print(f"# batch of {copies}: -j {j} (trial {round_ + 1}) ...", file=sys.stderr, flush=True)
                load = os.getloadavg()[0]
                res = run_sampled(cmd, env)
                res["loadavg_before"] = round(load, 2)
                res["fps"] = copies * info["frames"] / res["wall_s"] if not res["rc"] else None
                print(f"#   {res['wall_s']:.1f} s wall, {res['cpu_s']:.1f} cpu-s, threads alive max "
                      f"{res['threads_alive_max']}, running max {res['running_max']} (mean {res['running_mean']:.2f})"
                      + (f", rc {res['rc']}: {res['error']}" if res["rc"] else ""), file=sys.stderr, flush=True)
                key = f"-j {j}" if j else "-j default"
                prev = runs.get(key)
                trials = (prev.pop("trials") if prev else []) + [
                    {k: res.get(k) for k in ("wall_s", "cpu_s", "running_max", "running_mean", "loadavg_before")}]
                best = prev if prev and prev["wall_s"] <= res["wall_s"] else res
                best["trials"] = trials
                runs[key] = best
    return {"clip": clip.name, "copies": copies, **info, "cores": len(os.sched_getaffinity(0)), "runs": runs}


def render_batch(result: dict) -> str:
    lines = [f"batch: {result['copies']} copies of {result['clip']} ({result['width']}x{result['height']}, "
             f"{result['frames']} frames), {result['cores']} cores",
             f"  {'run':<12} {'wall s':>7} {'fps':>6} {'cpu s':>6} {'threads alive':>13} {'in 1 process':>12} "
             f"{'running max':>11} {'p95':>4} {'mean':>5} {'load':>5} {'trials wall s':>14}"]
    for key, r in result["runs"].items():
        lines.append(f"  {key:<12} {r['wall_s']:>7.1f} {_f(r.get('fps'), '.1f'):>6} {r['cpu_s']:>6.0f} "
                     f"{r['threads_alive_max']:>13} {r['threads_one_process_max']:>12} {r['running_max']:>11} "
                     f"{r['running_p95']:>4} {r['running_mean']:>5.2f} {r['loadavg_before']:>5.1f} "
                     f"{' '.join(format(t['wall_s'], '.1f') for t in r['trials']):>14}")
    lines.append("  threads alive: all threads of all the command's processes at once (most are idle pools); "
                 "running: threads in state R (running or runnable) at a sample, every 0.1 s")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------- output

ROWS = (
    ("ceiling", "ceiling: PyAV decode -> libx264 (crf 23, veryfast)"),
    ("media", "media layer: VideoReader -> VideoWriter"),
    ("ours", "ours: anonymise_file, defaults"),
    ("ours_noresidual", "ours: residual_samples=0"),
    ("ours_copy", "ours: --copy-unchanged"),
    ("deface", "deface 1.5.0 CLI, defaults (whole command)"),
)


def _f(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def render(results: list[dict], meta: dict) -> str:
    lines = [f"{meta['date']}; machine: {meta['cpus']} cpus; deface: {meta['deface'] or 'not installed'}; "
             f"onnxruntime threads for ours: {meta['cpus']}", f"anonymizer: {meta['anonymizer']['source']}"]
    for r in results:
        lines += ["", f"{r['clip']}: {r['width']}x{r['height']} {r['codec']}, {r['frames']} frames, "
                      f"{_f(r['rate'], '.2f')} fps  ({r['path']})",
                  f"  {'run':<46} {'frames':>6} {'seconds':>8} {'fps':>7} {'x ceiling':>9} {'peak RSS':>9} "
                  f"{'cpu s':>7} {'fr/cpu-s':>8} {'load':>5} {'trials fps':>10}"]
        ceiling = r["runs"].get("ceiling", {}).get("fps")
        for key, title in ROWS:
            run = r["runs"].get(key)
            if run is None:
                continue
            rel = run["fps"] / ceiling if run.get("fps") and ceiling else None
            if key == "ours" and run.get("residual_samples") is not None:
                title = f"{title} (residual {run['residual_samples']})"
            lines.append(
                f"  {title:<46} {run.get('frames') or 0:>6} {_f(run.get('seconds'), '.1f'):>8} "
                f"{_f(run.get('fps')):>7} {_f(rel, '.3f'):>9} {_f(run['peak_rss_mib'], '.0f'):>5} MiB "
                f"{_f(run['cpu_s'], '.0f'):>7} {_f(run.get('frames_per_cpu_s')):>8} "
                f"{_f(run['loadavg_before'], '.1f'):>5} "
                f"{' '.join(_f(tr['fps']) for tr in run.get('trials', [])):>10}"
                + (f"  rc={run['rc']} {run.get('error', '')}" if run["rc"] else "")
            )
        ours = r["runs"].get("ours", {})
        if ours.get("model_load_s") is not None:
            lines.append(f"  ours: model loading {ours['model_load_s']:.1f} s (excluded), whole process "
                         f"{_f(ours.get('fps_whole_process'))} fps; keyframes {ours.get('keyframes')}, detections "
                         f"{ours.get('detections')}, possible leaks {ours.get('possible_leaks')}")
            if ours.get("static_keyframes") is not None:
                lines.append(f"  ours: keyframes carried on (static) {ours.get('static_keyframes')}")
        copy = r["runs"].get("ours_copy", {}).get("copy")
        if copy:
            lines.append(f"  ours --copy-unchanged: {copy}")
        rt = r["ratios"]
        lines.append(f"  ratios: ours/ceiling {_f(rt['ours/ceiling'], '.3f')} (no residual "
                     f"{_f(rt['ours_noresidual/ceiling'], '.3f')}; --copy-unchanged "
                     f"{_f(rt.get('ours_copy/ceiling'), '.3f')}; per cpu-s: ours "
                     f"{_f(rt.get('ours/ceiling per cpu-s'), '.3f')}, --copy-unchanged "
                     f"{_f(rt.get('ours_copy/ceiling per cpu-s'), '.3f')}), ours/deface {_f(rt['ours/deface'], '.2f')} "
                     f"(no residual {_f(rt['ours_noresidual/deface'], '.2f')}); ours/deface per cpu-s "
                     f"{_f(rt['ours/deface per cpu-s'], '.2f')}")
    lines += ["", "fps: frames / seconds timed inside the process (ours: model loading excluded); deface: frames / "
                  "wall-clock of the whole command. fr/cpu-s: frames per CPU-second of the whole process (start-up and "
                  "model loading included; robust to other work on the machine). peak RSS: VmHWM of that "
                  "subprocess. load: 1-min load average before the run. With --repeat the fastest trial is shown, "
                  "all trials' fps listed."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    maybe_reexec([sys.argv[0], *argv])  # --ref REV: measure a committed revision
    if argv and argv[0] == "--worker":
        return worker_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path, help="video files to time")
    ap.add_argument("--show", type=Path, default=None, help="print the table of a JSON saved with --save, run nothing")
    ap.add_argument("--synth", default="", help="comma-separated synthetic clips to make and time: 360p,720p,1080p,4k, "
                                              "static1080p (fixed camera, 60 s, a face crossing for 3 s)")
    ap.add_argument("--synth-frames", type=int, default=150, help="frames of each synthetic clip (default 150)")
    ap.add_argument("--frames", type=int, default=None, help="cut real clips to their first N frames")
    ap.add_argument("--seconds", type=float, default=None, help="cut real clips to their first S seconds")
    ap.add_argument("--skip", default="", help="comma-separated runs to leave out: "
                                               "ceiling,media,ours,ours_noresidual,ours_copy,deface")
    ap.add_argument("--repeat", type=int, default=1, help="trials of each of our runs and the ceiling (best kept)")
    ap.add_argument("--deface-repeat", type=int, default=1, help="trials of deface (best kept; it is slow)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds before a run is killed (default 900)")
    ap.add_argument("--batch", type=int, default=0,
                    help="time `anonymizer anonymise` on a folder of N copies of the (first) clip instead, per -j")
    ap.add_argument("--batch-jobs", default="0,1", help="-j values for --batch (0: the default), default 0,1")
    ap.add_argument("--json", action="store_true", help="JSON on stdout instead of the table")
    ap.add_argument("--ref", default=None, help="measure this committed revision instead of the working tree")
    ap.add_argument("--save", type=Path, default=None, help="also write the JSON to this file")
    args = ap.parse_args(argv)
    if args.show:
        saved = json.loads(args.show.read_text())
        print(render(saved["results"], saved["meta"]))
        return 0
    if not args.clips and not args.synth:
        ap.error("give clips, --synth, or both")
    todo: list[tuple[Path, str]] = []
    for label in [s.strip() for s in args.synth.split(",") if s.strip()]:
        if label not in SYNTH_SIZES and label not in STATIC_SYNTH:
            ap.error(f"--synth: unknown clip {label}; known: {', '.join([*SYNTH_SIZES, *STATIC_SYNTH])}")
        n = STATIC_FRAMES if label in STATIC_SYNTH else args.synth_frames
        print(f"# making synthetic {label} clip ({n} frames) ...", file=sys.stderr, flush=True)
        todo.append((synth_clip(label, args.synth_frames), f"synth {label}"))
    for clip in args.clips:
        if not clip.exists():
            ap.error(f"{clip}: no such file")
        limit = args.frames
        if args.seconds is not None:
            rate = probe_clip(clip)["rate"] or 25.0
            limit = min(limit or 10**9, int(math.ceil(args.seconds * rate)))
        if limit is not None and probe_clip(clip)["frames"] > limit:
            todo.append((cut_clip(clip, limit), f"{clip.name} (first {limit} frames)"))
        else:
            todo.append((clip, clip.name))
    if args.batch:
        jobs = [int(j) for j in args.batch_jobs.split(",")]
        batch = bench_batch(todo[0][0], args.batch, jobs, args.repeat, args.timeout)
        batch["anonymizer"] = describe()
        if args.save:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            args.save.write_text(json.dumps(batch, indent=2) + "\n")
        print(json.dumps(batch, indent=2) if args.json else render_batch(batch))
        return 0
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    meta = {"cpus": os.cpu_count(), "deface": deface_version() if "deface" not in skip else "skipped",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "python": sys.version.split()[0],
            "anonymizer": describe()}
    results = [bench_clip(path, label, skip, args.timeout, args.repeat, args.deface_repeat) for path, label in todo]
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    if args.json:
        print(json.dumps({"meta": meta, "results": results}, indent=2))
    else:
        print(render(results, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
