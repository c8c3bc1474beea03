"""Photos' extra pass: faces looked for on the photo enlarged 2x (real CenterFace, a real face photo)."""

import numpy as np
import pytest

from anonymizer.domain.geometry import iou_matrix


@pytest.mark.parametrize("size", [12, 14])
def test_a_photo_s_tiny_face_is_found_on_the_photo_enlarged(detectors, size):
    """A real face of 12-14 px in a 1080p photo: CenterFace misses it at the photo's size; the enlarged pass finds
    it where it is."""
    from anonymizer.imaging.scene import background, face_sprite, paste
    from anonymizer.pipelines.detection import FrameDetector, run_native

    frame = background(1920, 1080).copy()
    sprite = face_sprite()
    sprite = sprite.scaled(size / (sprite.box[2] - sprite.box[0]))
    truth = np.array([paste(frame, sprite, 900, 500)], np.float32)
    native = run_native(detectors["face"], frame)
    assert not len(native) or iou_matrix(native.xyxy, truth).max() < 0.3
    found = FrameDetector(detectors, 1920, 1080, fine_kinds=("face",)).image(frame, "face")
    assert len(found) and iou_matrix(found.xyxy, truth).max() >= 0.5


@pytest.mark.parametrize("second", ["clpdet", "off"])
def test_a_photo_s_small_plate_is_found_on_the_photo_enlarged(models_ready, second):
    """An 80 px plate in a 1080p photo that platedet finds only on the photo enlarged 2x (it misses it at the
    photo's size, and clpdet misses it at either size): found where it is, with or without the second detector."""
    import cv2

    from anonymizer.imaging.scene import background, render_plate
    from anonymizer.inference.detectors import load_detectors
    from anonymizer.pipelines.detection import FrameDetector

    dets = load_detectors(0.2, 0.2, 960, 640, threads=2, kinds=("plate",), plate_second=second)
    frame = background(1920, 1080).copy()
    frame[700:724, 900:980] = cv2.resize(render_plate(), (80, 24), interpolation=cv2.INTER_AREA)
    truth = np.array([[900, 700, 980, 724]], np.float32)
    found = FrameDetector(dets, 1920, 1080, fine_kinds=("plate",)).image(frame, "plate")
    assert len(found) and iou_matrix(found.xyxy, truth).max() >= 0.5


def test_platedet_s_enlarged_run_finds_a_plate_across_tiles_once(models_ready):
    """A 4K photo is enlarged in tiles: a plate where the four tiles overlap is found once, in photo pixels."""
    import cv2

    from anonymizer.imaging.scene import background, render_plate
    from anonymizer.inference.detectors import load_detectors
    from anonymizer.inference.pictures import ENLARGE_TILE

    from anonymizer.inference.plate import PlateDetector

    loaded = load_detectors(0.2, 0.2, 960, 640, threads=2, kinds=("plate",))["plate"].detector
    platedet = PlateDetector(loaded.session, 0.05)  # the rendered plate is not the plates it learnt
    frame = background(3840, 2160).copy()
    x, y = ENLARGE_TILE[0] - 60, 1060  # inside the overlap of the four tiles of a 4K frame
    frame[y : y + 24, x : x + 80] = cv2.resize(render_plate(), (80, 24), interpolation=cv2.INTER_AREA)
    truth = np.array([[x, y, x + 80, y + 24]], np.float32)
    found = platedet.detect_enlarged(frame)
    assert len(found) and iou_matrix(found.xyxy, truth).max() >= 0.5
    assert (iou_matrix(found.xyxy, truth)[:, 0] > 0.1).sum() == 1
    assert (found.xyxy[:, [0, 2]] <= 3840).all() and (found.xyxy[:, [1, 3]] <= 2160).all()
