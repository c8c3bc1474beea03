"""Publishing an output: flushed to disk before it is renamed into place, and the folder flushed after."""

from fractions import Fraction

import numpy as np

from anonymizer import safe_files
from anonymizer.media.reader import VideoReader
from anonymizer.media.synth import write_video
from anonymizer.media.writer import VideoWriter


def test_a_published_video_was_flushed_before_its_rename_and_its_folder_after(tmp_path, monkeypatch):
    events = []
    real_file, real_dir = safe_files.fsync_file, safe_files.fsync_dir
    monkeypatch.setattr(safe_files, "fsync_file", lambda p: (events.append(("file", p.exists(), p)), real_file(p)))
    monkeypatch.setattr(safe_files, "fsync_dir", lambda p: (events.append(("dir", p)), real_dir(p)))
    clip = write_video(tmp_path / "in.mp4", (np.full((64, 64, 3), i * 10, np.uint8) for i in range(3)), rate=Fraction(25))
    target = tmp_path / "out" / "o.mp4"
    target.parent.mkdir()
    with VideoReader(clip) as reader:
        writer = VideoWriter(target, 64, 64, reader.time_base, reader.rate)
        for frame in reader.frames():
            writer.write_frame(frame.av_frame)
        tmp = writer.tmp
        writer.commit()
    assert target.exists() and not tmp.exists()
    assert events[0][0] == "file" and events[0][1] and events[0][2] == tmp  # the temp file, before the rename
    assert ("dir", target.parent) in events[1:]
