"""Photos' plates are also looked for on a contrast-equalised copy enlarged 3x (``detection.contrasted``)."""

import numpy as np
import pytest

from anonymizer.domain.geometry import iou_matrix


def test_contrasted_lifts_a_dim_flat_patch_and_keeps_the_picture_s_shape():
    from anonymizer.pipelines.detection import contrasted

    rng = np.random.default_rng(3)
    rgb = np.full((360, 640, 3), 40, np.uint8)
    rgb[150:170, 300:360] = 40 + rng.integers(0, 12, (20, 60, 1), dtype=np.uint8)  # a dim plate: 12 levels of detail
    out = contrasted(rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    patch, before = out[150:170, 300:360].astype(float), rgb[150:170, 300:360].astype(float)
    assert patch.std() > 1.5 * before.std()
    # a grey picture stays grey: the colours are kept (only the lightness is equalised)
    grey = np.abs(out[..., 0].astype(int) - out[..., 2].astype(int)).max()
    assert grey <= 2


class _SeesOnlyWithContrast:
    """A plate detector stub (plumbing only: what the photo path sends it) that finds the plate at ``box`` only
    where the plate's pixels vary enough, as on the contrast-equalised copy; it records each enlarged call."""

    kind = "plate"
    threshold = 0.2

    def __init__(self, box, min_std):
        self.box = np.asarray(box, np.float32)
        self.min_std = min_std
        self.enlarged_calls = []

    def input_size(self, w, h):
        return w, h

    def _found(self, rgb):
        from anonymizer.domain.detections import Detections

        x1, y1, x2, y2 = self.box.astype(int)
        if rgb[y1:y2, x1:x2].astype(float).std() < self.min_std:
            return Detections.empty()
        return Detections(self.box[None], np.array([0.6], np.float32))

    def detect(self, rgb, src_w, src_h):
        return self._found(rgb)

    def detect_native(self, rgb):
        return self._found(rgb)

    def detect_enlarged(self, rgb, factor=2.0, tile=None, second_threshold=None, threshold=None):
        self.enlarged_calls.append({"factor": factor, "tile": tile, "second_threshold": second_threshold,
                                    "threshold": threshold})
        return self._found(rgb)


def _dim_photo():
    rng = np.random.default_rng(3)
    rgb = np.full((360, 640, 3), 40, np.uint8)
    rgb[150:170, 300:360] = 40 + rng.integers(0, 12, (20, 60, 1), dtype=np.uint8)  # a dim, flat plate
    return rgb


def test_a_dim_plate_in_a_photo_is_looked_for_on_the_contrasted_copy_enlarged(monkeypatch):
    """The photo path runs the plate detector's enlarged pass on the contrast-equalised copy, with the contrasted
    pass's enlargement, tiles and both thresholds; without that pass the dim plate is missed (the test can fail)."""
    from types import SimpleNamespace

    from anonymizer.pipelines import detection
    from anonymizer.pipelines.detection import FrameDetector

    rgb = _dim_photo()
    before = rgb[150:170, 300:360].astype(float).std()
    after = detection.contrasted(rgb)[150:170, 300:360].astype(float).std()
    stub = _SeesOnlyWithContrast([300, 150, 360, 170], min_std=(before + after) / 2)
    found = FrameDetector({"plate": SimpleNamespace(detector=stub)}, 640, 360).image(rgb, "plate", upscale=False)
    assert len(found) == 1 and np.allclose(found.xyxy[0], [300, 150, 360, 170])
    assert {"factor": detection.CONTRAST_ENLARGE, "tile": detection.CONTRAST_TILE,
            "second_threshold": detection.CONTRAST_SECOND_THRESHOLD,
            "threshold": detection.CONTRAST_THRESHOLD} in stub.enlarged_calls
    monkeypatch.setattr(detection, "CONTRAST_KINDS", ())
    assert len(FrameDetector({"plate": SimpleNamespace(detector=stub)}, 640, 360).image(rgb, "plate",
                                                                                         upscale=False)) == 0


def test_the_contrasted_pass_runs_the_real_plate_detectors_at_its_thresholds(models_ready):
    """Both real plate detectors on a contrast-equalised photo enlarged 3x: boxes in the photo's pixels, none under
    the contrasted pass's thresholds, a plate rendered in the photo found."""
    import cv2

    from anonymizer.inference.detectors import load_detectors
    from anonymizer.inference.plate_retina import PlateUnion
    from anonymizer.imaging.scene import background, render_plate
    from anonymizer.pipelines import detection

    union = load_detectors(0.2, 0.2, 960, 640, threads=2, kinds=("plate",), plate_second="clpdet")["plate"].detector
    assert isinstance(union, PlateUnion)
    frame = background(960, 540).copy()
    frame[300:321, 400:470] = cv2.resize(render_plate(), (70, 21), interpolation=cv2.INTER_AREA)  # a 70 px plate
    found = union.detect_enlarged(detection.contrasted(frame), factor=detection.CONTRAST_ENLARGE,
                                  tile=detection.CONTRAST_TILE, second_threshold=detection.CONTRAST_SECOND_THRESHOLD,
                                  threshold=detection.CONTRAST_THRESHOLD)
    assert len(found) and iou_matrix(found.xyxy, np.array([[400, 300, 470, 321]], np.float32)).max() >= 0.5
    assert found.xyxy[:, [0, 2]].max() <= 960 and found.xyxy[:, [1, 3]].max() <= 540
    platedet_only = union.primary.detect_enlarged(detection.contrasted(frame), detection.CONTRAST_ENLARGE,
                                                  detection.CONTRAST_TILE, threshold=detection.CONTRAST_THRESHOLD)
    assert not len(platedet_only) or platedet_only.scores.min() >= detection.CONTRAST_THRESHOLD
