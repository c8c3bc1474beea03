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
        options = loaded.detector.session.get_session_options()
        assert options.intra_op_num_threads == 1
        assert not options.enable_mem_pattern  # about 90 MiB less peak RSS (benchmarks/README.md)


def test_a_single_threaded_worker_stays_single_threaded(tmp_path, models_ready, codec_threads_reset):
    """A worker with a budget of one thread: anonymising a clip (decode, scaling for the detectors on buffered
    keyframes, redaction, encode, verification) adds no thread pools; counted in /proc/self/task while it runs."""
    import os
    import threading
    from pathlib import Path

    import cv2

    from anonymizer.pipelines.anonymise import anonymise_file
    from anonymizer.pipelines.batch import open_detectors, use_thread_budget
    from anonymizer.settings import AnonymiseSettings
    from tests.conftest import make_scene_clip

    if not Path("/proc/self/task").exists():
        pytest.skip("needs /proc to count threads")
    clip = tmp_path / "in.mp4"
    make_scene_clip(clip, 640, 360, n=40)
    before_cv = cv2.getNumThreads()
    use_thread_budget(1)
    dets = open_detectors(AnonymiseSettings(), threads=1)
    baseline = len(os.listdir("/proc/self/task"))
    peak, stop = [baseline], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(os.listdir("/proc/self/task")) - 1)  # the sampler itself not counted
            stop.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        anonymise_file(clip, tmp_path / "out.mp4", AnonymiseSettings(), dets, overwrite=True)
    finally:
        stop.set()
        sampler.join()
        cv2.setNumThreads(before_cv)
    # What may be added: a decode thread per open reader (the pipeline may open a second one for a second pass),
    # libx264's own thread (it keeps one even at threads=1), and a thread still ending when the next starts on a
    # loaded machine (alone: one more than the baseline). Per-frame swscale pools (one thread per core for every
    # buffered keyframe) made it 20 more; any pool sized by the core count would add at least one per core.
    assert peak[0] <= baseline + 6, (baseline, peak[0])
