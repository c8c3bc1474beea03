"""The batch's thread budget: workers x threads <= cores, applied to decoders, encoders and ONNX Runtime."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from anonymizer.media import threads as media_threads
from anonymizer.media.reader import VideoReader
from anonymizer.media.synth import write_video
from anonymizer.media.writer import VideoWriter
from anonymizer.pipelines.batch import default_workers, thread_budget


@given(st.integers(1, 64), st.integers(1, 256))
def test_default_batch_never_oversubscribes(cores, tasks):
    workers = default_workers(tasks, cores)
    threads = thread_budget(workers, cores)
    assert 1 <= workers <= min(tasks, cores)
    assert threads >= 1 and workers * threads <= cores
    # The cores left idle are fewer than one worker's share: the budget uses the machine.
    assert cores - workers * threads < workers


@given(st.integers(1, 64), st.integers(1, 256))
def test_any_worker_count_gets_at_least_one_thread(cores, workers):
    threads = thread_budget(workers, cores)
    assert threads >= 1
    if workers <= cores:
        assert workers * threads <= cores


@pytest.fixture
def codec_threads_reset():
    yield
    media_threads.set_codec_threads(0)


def test_readers_and_writers_take_the_process_budget(tmp_path, codec_threads_reset):
    clip = tmp_path / "in.mp4"
    write_video(clip, (np.full((64, 64, 3), i * 10, np.uint8) for i in range(4)), rate=Fraction(25))
    media_threads.set_codec_threads(1)
    with VideoReader(clip) as reader:
        assert reader.stream.codec_context.thread_count == 1
        writer = VideoWriter(tmp_path / "out.mp4", 64, 64, reader.time_base, reader.rate)
        assert writer.stream.codec_context.thread_count == 1
        writer.abort()
    with VideoReader(clip, threads=3) as reader:  # an explicit count still wins
        assert reader.stream.codec_context.thread_count == 3
    with pytest.raises(ValueError):
        media_threads.set_codec_threads(-1)


def test_detector_sessions_use_the_budget(models_ready):
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    dets = open_detectors(AnonymiseSettings(), threads=1)
    for loaded in dets.values():
        assert loaded.detector.session.get_session_options().intra_op_num_threads == 1
