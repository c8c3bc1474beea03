"""Video frames: in the plates' full-resolution pass the second plate detector (clpdet) sees the frame enlarged
``FINE_SECOND_ENLARGE`` (3x) times where platedet sees it 2x, in tiles no larger, enlarged, than platedet's.

The plumbing is tested here with stand-in detectors that record what they are shown; real models run through the
same code in ``test_fine_enlarged.py`` (a rendered plate redacted from the enlarged pass) and the recall gain is a
benchmark's (benchmarks/README.md, "Video plates: clpdet enlarged 3x"): the rendered test plate is found or missed
alike at 2x and 3x by clpdet."""

import numpy as np
import pytest

from anonymizer.domain.detections import Detections
from anonymizer.inference.plate import PlateDetector
from anonymizer.inference.plate_retina import ENLARGED_THRESHOLD, PlateUnion, RetinaPlateDetector
from anonymizer.pipelines.detection import FINE_SECOND_ENLARGE, run_fine


class Recording:
    """A stand-in for one plate detector's ``detect_native``: records the size of every picture it is shown and
    finds one box, given in the enlarged picture's pixels for a picture of ``finds_at`` width."""

    def __init__(self, finds_at: int | None, box: list[float], score: float) -> None:
        self.shown: list[tuple[int, int]] = []
        self.finds_at, self.box, self.score = finds_at, box, score

    def __call__(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        self.shown.append((w, h))
        if w == self.finds_at:
            return Detections(np.array([self.box], np.float32), np.array([self.score], np.float32))
        return Detections.empty()


class Loaded:
    fine = None  # the enlarged path (settings plate_fine "platedet"), not platenet

    def __init__(self, detector):
        self.detector = detector


def _union(primary_native, second_native, threshold=0.2):
    primary = PlateDetector.__new__(PlateDetector)
    primary.threshold = threshold
    primary.detect_native = primary_native
    second = RetinaPlateDetector.__new__(RetinaPlateDetector)
    second.threshold = threshold
    second.detect_native = second_native
    union = PlateUnion.__new__(PlateUnion)
    union.primary, union.second, union.threshold = primary, second, threshold
    return union


def test_clpdet_sees_a_crop_enlarged_3x_and_its_box_is_redacted_in_the_crop_s_pixels():
    crop = np.zeros((300, 400, 3), np.uint8)
    # clpdet finds a plate only on the crop enlarged 3x (1200 px wide): at 3 * (100, 60, 160, 80)
    second = Recording(finds_at=1200, box=[300, 180, 480, 240], score=ENLARGED_THRESHOLD + 0.1)
    primary = Recording(finds_at=None, box=[0, 0, 1, 1], score=0.9)
    found = run_fine(Loaded(_union(primary, second)), crop, enlarged=True)
    assert (1200, 900) in second.shown and (800, 600) not in second.shown  # 3x, not 2x
    assert (800, 600) in primary.shown and (400, 300) in primary.shown  # platedet: 2x and its own size
    assert found.xyxy.tolist() == [[100, 60, 160, 80]]


def test_clpdet_s_3x_boxes_under_its_enlarged_threshold_are_dropped():
    crop = np.zeros((300, 400, 3), np.uint8)
    second = Recording(finds_at=1200, box=[300, 180, 480, 240], score=ENLARGED_THRESHOLD - 0.05)
    primary = Recording(finds_at=None, box=[0, 0, 1, 1], score=0.9)
    assert len(run_fine(Loaded(_union(primary, second)), crop, enlarged=True)) == 0


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160), (1280, 720)])
def test_on_a_whole_frame_clpdet_s_enlarged_tiles_are_no_larger_than_platedet_s(size):
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    second = Recording(finds_at=None, box=[0, 0, 1, 1], score=0.9)
    primary = Recording(finds_at=None, box=[0, 0, 1, 1], score=0.9)
    run_fine(Loaded(_union(primary, second)), frame, enlarged=True)
    biggest_primary = max(w * h for w, h in primary.shown)
    enlarged_second = [(w, h) for w, h in second.shown if (w, h) != size]
    assert enlarged_second and max(w * h for w, h in enlarged_second) <= 1.25 * biggest_primary
