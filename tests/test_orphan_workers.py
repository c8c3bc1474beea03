"""A batch's worker processes die with their coordinator: `kill -9` of `anonymise -j 2` leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anonymizer.imaging.scene import scene_frames
from anonymizer.media.synth import write_video


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and brackets
    return int(fields[1]), fields[0]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _workers(parent: int) -> set[int]:
    """The parent's children started by multiprocessing's spawn (the pool's workers, not its resource tracker)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat and stat[0] == parent and "spawn_main" in _cmdline(int(entry.name)):
            out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z" and "spawn_main" in _cmdline(pid)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_kill_9_of_the_coordinator_leaves_no_worker_alive(tmp_path: Path, models_ready):
    src = tmp_path / "in"
    for i in range(4):
        write_video(src / f"clip{i}.mp4", (frame for frame, _ in scene_frames(640, 360, 60)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "anonymizer.cli.main", "anonymise", "-j", "2", str(src), "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers |= _workers(proc.pid)
            time.sleep(0.1)
        assert len(workers) == 2, "the pool's two workers never appeared"
        time.sleep(3)  # let them open the models and start a clip
        assert proc.poll() is None, "the batch ended before it could be killed: make the clips longer"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(10)
        left = sorted(pid for pid in workers if _alive(pid))
        assert not left, f"workers {left} outlived their coordinator"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
