"""Pre- and post-processing of each model, without the runtime."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from anonymizer.domain.detections import Detections
from anonymizer.inference import face, plate


def test_face_input_size_is_multiple_of_32_and_capped():
    assert face.input_size(1920, 1080, 1280) == (1280, 736)
    assert face.input_size(640, 360, 1280) == (640, 384)
    assert face.input_size(640, 360, 0) == (640, 384)


def test_centerface_decode_recovers_a_box():
    h, w = 24, 40  # output grid for a 160x96 input (stride 4)
    heat = np.zeros((1, 1, h, w), np.float32)
    scale = np.zeros((1, 2, h, w), np.float32)
    offset = np.zeros((1, 2, h, w), np.float32)
    cy, cx = 10, 20
    heat[0, 0, cy, cx] = 0.9
    scale[0, 0, cy, cx] = np.log(40 / 4)  # height 40
    scale[0, 1, cy, cx] = np.log(32 / 4)  # width 32
    dets = face.decode(heat, scale, offset, 160, 96, threshold=0.5)
    assert len(dets) == 1
    centre_x, centre_y = (cx + 0.5) * 4, (cy + 0.5) * 4
    assert np.allclose(dets.xyxy[0], [centre_x - 16, centre_y - 20, centre_x + 16, centre_y + 20])
    assert np.isclose(dets.scores[0], 0.9)
    assert len(face.decode(heat, scale, offset, 160, 96, threshold=0.95)) == 0


def test_face_boxes_scale_to_source():
    d = face.to_source(Detections.from_boxes([[10, 20, 30, 40]]), 640, 384, 1280, 720)
    assert np.allclose(d.xyxy, [[20, 37.5, 60, 75]])


def test_anchor_grid_layout():
    anchors, strides = plate.anchor_grid(640, 384)
    n = (80 * 48) + (40 * 24) + (20 * 12)
    assert anchors.shape == (1, 2, n) and strides.shape == (1, n)
    assert anchors[0, :, 0].tolist() == [0.5, 0.5]
    assert anchors[0, :, 1].tolist() == [1.5, 0.5]  # x runs fastest
    assert anchors[0, :, 80].tolist() == [0.5, 1.5]
    assert set(strides[0].tolist()) == {8.0, 16.0, 32.0}


def test_plate_decode_and_nms():
    n = 10
    out = np.zeros((1, 5 + 32, n), np.float32)  # 4 box + 1 class + 32 mask coefs (as the original model)
    out[0, :4, 0] = [100, 50, 40, 12]
    out[0, 4, 0] = 0.9
    out[0, :4, 1] = [101, 50, 40, 12]  # duplicate, lower score
    out[0, 4, 1] = 0.5
    out[0, :4, 2] = [300, 200, 60, 20]
    out[0, 4, 2] = 0.1  # under threshold
    d = plate.decode(out[:, :5], threshold=0.25)
    assert len(d) == 1
    assert np.allclose(d.xyxy[0], [80, 44, 120, 56])


@given(st.integers(64, 3840), st.integers(64, 2160), st.sampled_from([320, 480, 640, 960]))
def test_plate_letterbox_round_trip(src_w, src_h, side):
    rw, rh, cw, ch = plate.input_size(src_w, src_h, side)
    assert cw % 32 == 0 and ch % 32 == 0 and cw >= rw and ch >= rh
    assert max(rw, rh) == min(side, max(src_w, src_h))  # scaled down to the side, never up
    canvas, px, py = plate.letterbox(np.zeros((rh, rw, 3), np.uint8), cw, ch)
    assert canvas.shape == (ch, cw, 3)
    # A box covering the whole resized image maps back to the whole source frame.
    box = Detections.from_boxes([[px, py, px + rw, py + rh]])
    back = plate.to_source(box, px, py, rw, rh, src_w, src_h)
    assert np.allclose(back.xyxy, [[0, 0, src_w, src_h]], atol=1e-2 * max(src_w, src_h))


class _FakeSession:
    """Plumbing only: records what the plate detector feeds a model whose input is ``input_type``."""

    def __init__(self, input_type):
        self.input_type = input_type
        self.fed = {}

    def get_inputs(self):
        from types import SimpleNamespace

        return [SimpleNamespace(name="images", type=self.input_type)]

    def run(self, _names, feed):
        self.fed = feed
        n = feed["anchors"].shape[2]
        return [np.zeros((1, 5, n), feed["images"].dtype)]


@pytest.mark.parametrize("input_type, dtype", [("tensor(float16)", np.float16), ("tensor(float)", np.float32)])
def test_plate_detector_feeds_the_models_input_type(input_type, dtype):
    session = _FakeSession(input_type)
    det = plate.PlateDetector(session, 0.25, 640)
    rw, rh = det.input_size(1280, 720)
    det.detect(np.zeros((rh, rw, 3), np.uint8), 1280, 720)
    assert {v.dtype for v in session.fed.values()} == {np.dtype(dtype)}
