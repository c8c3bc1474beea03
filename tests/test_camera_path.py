"""The camera path: the global shift of a real picture between frames, estimated from the luma."""

import numpy as np
import pytest
from skimage import data

from anonymizer.imaging.motion import CameraPath


def _luma_sequence(shifts, size=(480, 640)):
    """Crops of a real photo (scikit-image's coffee, upscaled) at a moving origin: the scene moves by -origin."""
    import cv2

    big = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY), (1600, 1200), interpolation=cv2.INTER_CUBIC)
    origin = np.array([400.0, 300.0])
    out = []
    for step in [(0, 0)] + list(shifts):
        origin = origin + step
        x, y = int(round(origin[0])), int(round(origin[1]))
        out.append(np.ascontiguousarray(big[y : y + size[0], x : x + size[1]]))
    return out


@pytest.mark.parametrize("shifts", [[(12, -7)] * 6, [(-40, 25), (33, 10), (-5, -60), (70, 0)], [(0, 0)] * 4])
def test_the_path_follows_a_panning_and_shaking_camera(shifts):
    frames = _luma_sequence(shifts)
    path = CameraPath()
    for i, luma in enumerate(frames):
        path.add(i, luma)
    expected = -np.cumsum(np.vstack([[0, 0], np.asarray(shifts, float)]), axis=0)  # the scene moves opposite
    for i in range(len(frames)):
        assert np.allclose(path(i), expected[i], atol=2.5 * (i + 1) ** 0.5), (i, path(i), expected[i])


def test_frames_must_come_in_order():
    path = CameraPath()
    path.add(0, np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError):
        path.add(2, np.zeros((64, 64), np.uint8))


def test_a_fixed_camera_crossed_by_a_large_object_keeps_a_still_path():
    """A fixed view of a real photo with a large real object (the astronaut, a third of the frame) crossing it fast:
    whatever phase correlation makes of the object's motion, the path stays still."""
    import cv2
    from skimage import data

    scene = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY), (640, 480))
    person = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY), (260, 260))
    path = CameraPath()
    for i in range(8):
        frame = scene.copy()
        x = 20 + 45 * i
        frame[100:360, x : x + 260] = person[:, : min(260, 640 - x)]
        path.add(i, frame)
        assert np.allclose(path(i), 0.0), (i, path(i))


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (2, 1000), (1000, 2), (16, 16)])
def test_tiny_or_thin_frames_keep_a_still_path(size):
    rng = np.random.default_rng(0)
    path = CameraPath()
    for i in range(3):
        path.add(i, (rng.random(size) * 255).astype(np.uint8))
    assert len(path) == 3


def test_a_frame_not_yet_added_has_no_offset():
    path = CameraPath()
    path.add(0, np.zeros((64, 64), np.uint8))
    assert np.allclose(path(0), 0.0)
    with pytest.raises(IndexError):
        path(1)
    with pytest.raises(IndexError):
        path(-1)
