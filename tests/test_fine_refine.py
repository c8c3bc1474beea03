"""A refinement of the full-resolution pass (a frame between its keyframes) looks around the small objects tracked
there, not at everything that changed between the keyframes (``FrameDetector.fine_between``)."""

from fractions import Fraction
from types import SimpleNamespace

import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.imaging.motion import MOTION_SCALE
from anonymizer.pipelines.detection import MARGIN, MIN_CROP, FrameDetector

W, H = 1280, 720


class _Records:
    """A plate detector (plumbing only) that finds nothing and records the size of every picture it is shown."""

    kind = "plate"
    threshold = 0.2

    def __init__(self):
        self.seen: list[tuple[int, int]] = []

    def input_size(self, w, h):
        return w, h

    def detect(self, rgb, src_w, src_h):
        return Detections.empty()

    def detect_native(self, rgb):
        self.seen.append(rgb.shape[:2])
        return Detections.empty()


def _frame(index: int, seed: int):
    import av

    from anonymizer.media.reader import Frame

    rgb = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)  # a new picture everywhere
    yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    luma = yuv.to_ndarray()[:H]  # what the motion thumbnail reads
    return Frame(index=index, pts=index, time_base=Fraction(1, 25), planes=[luma], rotation=0, av_frame=yuv)


def test_a_refinement_looks_around_the_tracked_object_when_the_whole_picture_changed():
    stub = _Records()
    fd = FrameDetector({"plate": SimpleNamespace(detector=stub)}, W, H, fine_kinds=("plate",))
    none = np.zeros((0, 4), np.float32)
    fd.fine_keyframe(_frame(0, 1), "plate", none, none)  # the first: a full scan
    stub.seen.clear()
    fd.fine_keyframe(_frame(20, 2), "plate", none, none)  # everything changed: the keyframe looks everywhere
    assert sum(h * w for h, w in stub.seen) >= W * H
    stub.seen.clear()
    tracked = np.array([[600, 300, 660, 320]], np.float32)  # a small plate expected here on frame 10
    fd.fine_between(_frame(10, 3), "plate", tracked)
    assert len(stub.seen) == 1
    h, w = stub.seen[0]
    # one crop around the plate: the box reached by MARGIN on each side (out to cells of the motion grid), at least
    # MIN_CROP square, no more
    reach = 2 * MARGIN["plate"] + 2 * MOTION_SCALE
    assert 60 + 2 * MARGIN["plate"] <= w <= 60 + reach
    assert max(MIN_CROP, 20 + 2 * MARGIN["plate"]) <= h <= max(MIN_CROP, 20 + reach)


def test_a_refinement_with_nothing_tracked_runs_no_detector():
    stub = _Records()
    fd = FrameDetector({"plate": SimpleNamespace(detector=stub)}, W, H, fine_kinds=("plate",))
    none = np.zeros((0, 4), np.float32)
    fd.fine_keyframe(_frame(0, 1), "plate", none, none)
    fd.fine_keyframe(_frame(20, 2), "plate", none, none)
    stub.seen.clear()
    assert len(fd.fine_between(_frame(10, 3), "plate", none)) == 0
    assert stub.seen == []
