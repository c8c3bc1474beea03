"""Dark photos get every pass again on a brightened copy (``detection.brightened``)."""

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizer.pipelines.detection import BRIGHT_MEAN, DARK_MEAN, brightened


def test_a_photo_that_is_not_dark_is_left_alone():
    rgb = np.full((40, 60, 3), int(DARK_MEAN) + 1, np.uint8)
    rgb[:20] = 0
    rgb[20:] = 255  # mean 127
    assert brightened(rgb) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(2, int(DARK_MEAN) - 1), st.integers(0, 2**32 - 1))
def test_a_dark_photo_is_brightened_without_losing_its_order(level, seed):
    rng = np.random.default_rng(seed)
    rgb = np.clip(rng.normal(level, level / 2, (48, 64, 3)), 0, 255).astype(np.uint8)
    if rgb.mean() >= DARK_MEAN:
        return
    out = brightened(rgb)
    assert out is not None and out.shape == rgb.shape and out.dtype == np.uint8
    assert (out >= rgb).all()  # no pixel darker
    # the same order of values (a monotone curve): what was brighter stays at least as bright
    flat_in, flat_out = rgb.reshape(-1), out.reshape(-1)
    order = np.argsort(flat_in, kind="stable")
    assert (np.diff(flat_out[order].astype(int)) >= 0).all()
    assert out.mean() > rgb.mean() and out.mean() < 255 * BRIGHT_MEAN + 60  # brighter, not washed out


class _SeesOnlyInLight:
    """A plate detector (plumbing only) that finds its plate where the picture is bright enough to read it: stands
    in for platedet losing plates in the dark (measured with the real models in benchmarks/README.md, "Dark
    photos")."""

    kind = "plate"
    threshold = 0.2

    def __init__(self, box):
        self.box = np.asarray(box, np.float32)
        self.calls = 0

    def input_size(self, w, h):
        return w, h

    def _found(self, rgb, scale=1.0):
        from anonymizer.domain.detections import Detections

        self.calls += 1
        x1, y1, x2, y2 = (self.box * scale).astype(int)
        if rgb[y1:y2, x1:x2].mean() < 100:
            return Detections.empty()
        return Detections((self.box * scale)[None], np.array([0.9], np.float32))

    def detect(self, rgb, src_w, src_h):
        return self._found(rgb)

    def detect_native(self, rgb):
        return self._found(rgb)

    def detect_enlarged(self, rgb, factor=2.0, tile=None, second_threshold=None, threshold=None):
        return self._found(rgb)


def _dark_photo(level):
    rgb = np.full((360, 640, 3), level, np.uint8)
    rgb[200:230, 300:400] = min(255, 3 * level)  # a plate a little brighter than the night around it
    return rgb


def test_a_plate_in_a_dark_photo_is_found_on_the_brightened_copy():
    from anonymizer.pipelines.detection import FrameDetector

    stub = _SeesOnlyInLight([300, 200, 400, 230])
    found = FrameDetector({"plate": SimpleNamespace(detector=stub)}, 640, 360).image(_dark_photo(25), "plate",
                                                                                      upscale=False)
    assert len(found) == 1 and np.allclose(found.xyxy[0], [300, 200, 400, 230])
    # a photo that is not dark runs its passes once
    stub.calls = 0
    found = FrameDetector({"plate": SimpleNamespace(detector=stub)}, 640, 360).image(_dark_photo(70), "plate",
                                                                                      upscale=False)
    # detect and detect_enlarged on the photo itself, detect_enlarged on its contrast-equalised copy; no brightened one
    assert len(found) == 1 and stub.calls == 3


def _dark_frame(level):
    """A decoded frame (yuv420p, as the reader gives them) of ``_dark_photo``."""
    from fractions import Fraction

    import av

    from anonymizer.media.reader import Frame

    yuv = av.VideoFrame.from_ndarray(_dark_photo(level), format="rgb24").reformat(format="yuv420p")
    return Frame(index=0, pts=0, time_base=Fraction(1, 25), planes=[], rotation=0, av_frame=yuv)


def test_a_plate_in_a_dark_video_frame_is_found_by_both_passes():
    """Video keyframes: the coarse pass also runs on the brightened picture of a dark frame, the full-resolution
    pass runs on it instead (measured on a generated 1080p clip made dark: benchmarks/README.md, "Dark video")."""
    from anonymizer.pipelines.detection import FrameDetector

    stub = _SeesOnlyInLight([300, 200, 400, 230])
    fd = FrameDetector({"plate": SimpleNamespace(detector=stub, fine=None)}, 640, 360, fine_kinds=("plate",))
    coarse = fd.coarse(_dark_frame(25), "plate")
    assert len(coarse) == 1 and np.allclose(coarse.xyxy[0], [300, 200, 400, 230], atol=1)
    fine = fd._run_fine(_dark_frame(25), "plate", None)
    assert len(fine) == 1 and np.allclose(fine.xyxy[0], [300, 200, 400, 230], atol=1)
