"""A recording cut short (issue 29, item 7): what decodes is anonymised, the output and the report say how many
frames were lost and where, and the raw clip keeps its deadline. The file is made here: a clip written with
its index in front (as cameras and ``-movflags faststart`` write it), then cut after about half its bytes."""

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest

from anonymizer.imaging.scene import scene_frames
from anonymizer.media.synth import write_video
from tests.test_anonymise_e2e import run_cli
from tests.test_ingest import invoke, rows
from tests.test_run import setup_archive

pytestmark = pytest.mark.slow

N = 28  # frames at 25 fps: 1.12 s


def truncated_clip(path: Path, metadata=None) -> tuple[Path, int]:
    """The clip cut after half its bytes, and how many of its frames still decode."""
    whole = path.with_name("whole-" + path.name)
    write_video(whole, [f for f, _ in scene_frames(320, 240, N)], rate=Fraction(25), gop=7, metadata=metadata)
    front = path.with_name("front-" + path.name)
    with av.open(str(whole)) as src, av.open(str(front), "w", options={"movflags": "faststart"}) as dst:
        if metadata:
            dst.metadata.update(metadata)
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    data = front.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    whole.unlink()
    front.unlink()
    decoded = 0
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "NONE"
        for packet in c.demux(c.streams.video[0]):
            try:
                decoded += len(packet.decode())
            except av.FFmpegError:
                pass
    assert 0 < decoded < N
    return path, decoded


def frames_in(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_anonymise_keeps_what_decodes_and_says_what_was_lost(tmp_path: Path, models_ready):
    src, decoded = truncated_clip(tmp_path / "in" / "cut.mp4")
    r = run_cli("anonymise", str(src), "--out", str(tmp_path / "o"), "-j", "1")
    assert r.exit_code == 0, r.output
    out = tmp_path / "o" / "cut.mp4"
    assert frames_in(out) == decoded
    report = json.loads((tmp_path / "o" / "cut.mp4.report.json").read_text())
    lost = report["lost"]
    assert lost["frames"] == N - decoded and lost["declared_frames"] == N and lost["decoded_frames"] == decoded
    (stretch,) = lost["stretches"]
    assert stretch["from_s"] == pytest.approx(decoded / 25, abs=1e-3) and stretch["to_s"] == pytest.approx(N / 25)
    assert stretch["frames"] == N - decoded
    assert report["residual"]["passed"] and report["residual"]["checked_frames"] > 0
    # (the other line naming it on stderr: "...cut.mp4: anonymising (1 of 1)", tests/test_progress.py)
    (line,) = [l for l in r.stderr.splitlines() if "cut.mp4" in l and "anonymising (" not in l]
    assert f"{N - decoded} frames did not decode" in line and f"{decoded / 25:.2f}-{N / 25:.2f} s" in line


def test_run_anonymises_a_truncated_clip_and_the_raw_keeps_its_deadline(tmp_path: Path, models_ready):
    cfg = setup_archive(tmp_path)
    batch = tmp_path / "batch"
    _, decoded = truncated_clip(batch / "door" / "cut.mp4", metadata={"creation_time": "2024-06-01T12:00:00Z"})
    assert invoke("ingest", str(batch), "-c", cfg).exit_code == 0
    (raw,) = rows(tmp_path / "archive")
    assert raw.purge_after is not None
    r = invoke("run", str(batch), "-c", cfg, "-j", "1")
    assert r.exit_code == 0, r.output
    assert f"{N - decoded} frames did not decode" in r.stderr
    clips = {c.id: c for c in rows(tmp_path / "archive")}
    (copy,) = [c for c in clips.values() if c.derived_from == raw.id]
    assert copy.state == "anonymised" and copy.frames == decoded
    assert clips[raw.id].state == "raw" and clips[raw.id].purge_after == raw.purge_after
    events = [json.loads(l) for l in invoke("audit", "export", "-c", cfg).stdout.splitlines()]
    (made,) = [e for e in events if e["action"] == "anonymise"]
    assert made["details"]["lost_frames"] == N - decoded
