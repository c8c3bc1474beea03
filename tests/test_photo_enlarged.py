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
