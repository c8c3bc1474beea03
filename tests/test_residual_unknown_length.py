"""The residual check of a clip whose frame count and duration are unknown (a raw H.264 stream, issue 29 item 3):
frames are sampled as they come, and the check never passes having looked at nothing."""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from anonymizer.imaging.scene import scene_frames
from anonymizer.media.probe import probe
from anonymizer.pipelines.anonymise import StreamSamples, _sample_indices
from tests.test_anonymise_e2e import run_cli

N = 28


def raw_h264(path: Path, n: int = N) -> Path:
    """An Annex B elementary stream: no container, so no frame count and no duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="h264") as out:
        s = out.add_stream("libx264", rate=25, options={"preset": "veryfast", "crf": "16"})
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i, (rgb, _) in enumerate(scene_frames(320, 240, n)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def test_streamed_samples_fall_one_in_25_off_the_keyframes():
    s = StreamSamples(25, (5, 10))
    assert [i for i in range(120) if i in s] == [1, 26, 51, 76, 101]
    s = StreamSamples(25, (5, 25))  # 26 is no keyframe of 5 or 25: still 26; 51 is: 51
    assert [i for i in range(60) if i in s] == [1, 26, 51]
    s = StreamSamples(25, (2,))
    assert [i for i in range(60) if i in s] == [1, 27, 51]
    assert _sample_indices(0, 32, (5, 10)) == set()  # the known-length rule has nothing to spread over


@pytest.mark.slow
def test_a_raw_h264_stream_is_checked_not_waved_through(tmp_path: Path, models_ready):
    src = raw_h264(tmp_path / "in" / "cam.h264")
    info = probe(src)
    assert info.frames == 0 and info.duration is None  # what makes the known-length rule sample nothing
    r = run_cli("anonymise", str(src), "--out", str(tmp_path / "o"), "-j", "1")
    assert r.exit_code == 0, r.output
    (report_path,) = (tmp_path / "o").rglob("*.report.json")
    residual = json.loads(report_path.read_text())["residual"]
    assert residual["sampled_frames"] == [1, 26]
    assert residual["checked_frames"] + residual["unchanged_samples"] >= 2 and residual["checked_frames"] >= 1
    assert residual["passed"] is True
