"""Honest progress (issue 30 item 6): the anonymise loop reports each stage with its frames as they go (not only as
frames are encoded, which starts late and sits at 100 % through the second pass); on a terminal, clips are counted
as clips and frames as frames per stage; off a terminal (a pipe, cron), one line on stderr per clip as it starts."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from anonymizer.cli import progress as progress_bars
from anonymizer.cli.main import cli
from anonymizer.domain.detections import Detections
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media.synth import write_video
from anonymizer.pipelines.anonymise import anonymise_file
from anonymizer.settings import AnonymiseSettings

N = 24


def tiny_clip(path: Path, n: int = N) -> Path:
    yy, xx = np.mgrid[:120, :160]
    frames = [np.stack([xx * 255 // 160, yy * 255 // 120, np.full_like(xx, 8 * i)], -1).astype(np.uint8)
              for i in range(n)]
    return write_video(path, frames)


def stages(calls: list[tuple[str, int, int | None]]) -> list[str]:
    out: list[str] = []
    for stage, _, _ in calls:
        if not out or out[-1] != stage:
            out.append(stage)
    return out


def test_each_stage_is_reported_with_its_frames_as_they_go(tmp_path, detectors):
    """Before: one call per frame encoded, and encoding waits for the detectors' look-ahead (at 1080p, ~100
    frames: a 103-frame clip sat at 0 until its end)."""
    calls: list[tuple[str, int, int | None]] = []
    report = anonymise_file(tiny_clip(tmp_path / "c.mp4"), tmp_path / "o" / "c.mp4", AnonymiseSettings(),
                            detectors, progress=lambda *a: calls.append(a))
    assert report.passes == 1
    assert stages(calls) == ["detect", "write", "verify"]
    detect = [done for stage, done, _ in calls if stage == "detect"]
    assert detect == list(range(1, N + 1))  # every frame as it is decoded and detected
    write = [done for stage, done, _ in calls if stage == "write"]
    assert write == sorted(write) and write[-1] == N
    assert {total for stage, _, total in calls if stage != "verify"} == {N}


class FindsOnce:
    """A check detector that sees a plate on its first run only: a residual finding the second pass closes."""

    kind, threshold = "plate", 0.2

    def __init__(self, real) -> None:
        self.real, self.calls = real, 0

    def input_size(self, w, h):
        return self.real.input_size(w, h)

    def detect(self, rgb, w, h):
        self.calls += 1
        return Detections.from_boxes([[20, 20, 70, 35]], 0.9) if self.calls == 1 else Detections.empty()


def test_the_second_pass_is_reported_as_such(tmp_path, detectors):
    """Before: the second pass reported nothing, and the bar stood at 100 % for as long as it ran."""
    check = dict(detectors)
    check["plate"] = LoadedDetector(FindsOnce(detectors["plate"].detector), detectors["plate"].model)
    calls: list[tuple[str, int, int | None]] = []
    report = anonymise_file(tiny_clip(tmp_path / "c.mp4"), tmp_path / "o" / "c.mp4", AnonymiseSettings(),
                            detectors, check_detectors=check, progress=lambda *a: calls.append(a))
    assert report.passes == 2 and report.status == "published"
    assert stages(calls) == ["detect", "write", "second pass", "write", "verify"]
    assert [done for stage, done, _ in calls if stage == "second pass"] == list(range(1, N + 1))


def test_one_line_per_clip_off_a_terminal(tmp_path, models_ready):
    """Before: nothing on stderr until a clip ended (and then only on stdout)."""
    for name in ("a.mp4", "b.mp4"):
        tiny_clip(tmp_path / "in" / name, 4)
    r = CliRunner().invoke(cli, ["anonymise", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "-j", "1"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    for i, name in enumerate(("a.mp4", "b.mp4")):
        assert str(tmp_path / "in" / name) in lines[i] and f"({i + 1} of 2)" in lines[i], lines
    r = CliRunner().invoke(cli, ["-q", "anonymise", str(tmp_path / "in"), "--out", str(tmp_path / "q"), "-j", "1"],
                           catch_exceptions=False)
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    assert r.stdout == "", r.stdout  # quiet: nothing unless something needs a person (issue 30 item 7)
    assert (tmp_path / "q" / "a.mp4").exists() and (tmp_path / "q" / "b.mp4").exists()


def test_bars_count_clips_as_clips_and_frames_per_stage(monkeypatch):
    """Before: the batch bar counted clips in "f", and a clip's bar counted encoded frames, with no stage."""
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress_bars, "enabled", lambda: True)
    batch = progress_bars.bar(2, "clips")
    assert batch.unit == "clip"
    clips = progress_bars.ClipProgress(2)
    clips.start(Path("cam/a.mp4"))
    update = clips.frames(Path("cam/a.mp4"))
    assert update is not None
    update("detect", 7, 40)
    bar = clips._bar  # noqa: SLF001 - the bar as shown
    assert bar.unit == "frame" and bar.desc.rstrip(": ") == "a.mp4: detect" and (bar.n, bar.total) == (7, 40)
    update("write", 3, 40)  # a new stage counts from where that stage is, not from the last one's count
    assert bar.desc.rstrip(": ") == "a.mp4: write" and bar.n == 3
    update("write", 40, 40)
    assert bar.n == 40
    clips.close()
    batch.close()
    assert "a.mp4: detect" in err.getvalue() or "a.mp4: write" in err.getvalue()
