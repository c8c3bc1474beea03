"""Issue 30 item 4, the code items: output folders not open to all under umask 000, clip names with glob
characters, and the catalogue URL's password never shown."""

import os
import stat
from fractions import Fraction
from pathlib import Path

import numpy as np

from anonymizer.media.reader import VideoReader
from anonymizer.media.synth import write_video
from anonymizer.media.writer import VideoWriter, temp_path_for
from anonymizer.pipelines.anonymise import report_path_for
from anonymizer.pipelines.run import remove_leftovers
from tests.test_ingest import invoke


def test_output_folders_are_not_open_to_all_under_umask_000(tmp_path: Path):
    clip = write_video(tmp_path / "in.mp4", (np.full((64, 64, 3), i * 10, np.uint8) for i in range(3)),
                       rate=Fraction(25))
    target = tmp_path / "out" / "a" / "b" / "o.mp4"
    old = os.umask(0)
    try:
        with VideoReader(clip) as reader:
            writer = VideoWriter(target, 64, 64, reader.time_base, reader.rate)
            for frame in reader.frames():
                writer.write_frame(frame.av_frame)
            writer.commit()
    finally:
        os.umask(old)
    for d in (tmp_path / "out", tmp_path / "out" / "a", tmp_path / "out" / "a" / "b"):
        assert stat.S_IMODE(d.stat().st_mode) & 0o007 == 0, oct(d.stat().st_mode)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_leftovers_of_a_clip_named_with_glob_characters_are_found(tmp_path: Path):
    dst = tmp_path / "cam[1] *?.mp4"
    video = temp_path_for(dst)
    report = tmp_path / f".{report_path_for(dst).name}.partial-123"
    other = tmp_path / ".cam1 x.partial-9.mp4"  # another clip's temporary file: matched by the unescaped glob
    for p in (video, report, other):
        p.write_bytes(b"x")
    assert sorted(remove_leftovers(dst)) == sorted([video, report])
    assert other.exists()


def test_config_check_never_prints_the_catalogue_password(tmp_path: Path):
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "c.toml").write_text(
        'catalogue = "postgresql+psycopg://footage:s3cret@127.0.0.1:1/footage"\n')
    for args in (["config", "check"], ["config", "check", "--json"], ["clips", "list"]):
        r = invoke(*args, "-c", str(tmp_path / "arch" / "c.toml"))
        assert "s3cret" not in r.output and "s3cret" not in r.stderr, (args, r.output, r.stderr)
