"""Faces at 720p: one pass at full resolution on every keyframe instead of a coarse pass at 960 plus crops (real
models)."""

import pytest

from anonymizer.imaging.scene import Mover, face_sprite
from anonymizer.pipelines.anonymise import anonymise_file
from anonymizer.settings import AnonymiseSettings
from tests.test_anonymise_privacy import assert_unreadable, scene_video


def test_a_small_face_at_720p_is_found_by_the_full_resolution_coarse_pass(tmp_path, detectors):
    """A face 18 pixels wide in a 720p frame: scaled to 960 it is 13.5 px and CenterFace misses it; at full resolution it
    is found on every keyframe, with no separate full-resolution pass for faces."""
    face = face_sprite()
    face = face.scaled(18 / (face.box[2] - face.box[0]))
    src, truth = scene_video(tmp_path / "hd.mp4", 1280, 720, 8, [Mover(face, (0.30, 0.20), (0.31, 0.21))])
    dst = tmp_path / "out" / "hd.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(), detectors)
    assert report.status == "published"
    assert "face_fine" not in report.keyframes and "face" not in report.fine and "plate" in report.fine
    assert report.detections["face"] >= 1
    assert_unreadable(src, dst, truth, kinds=("face",))
    # The coarse pass at 960 alone (no full-resolution work) leaks it: the test can fail.
    anonymise_file(src, tmp_path / "off" / "hd.mp4", AnonymiseSettings(small_objects="off"), detectors)
    with pytest.raises(AssertionError):
        assert_unreadable(src, tmp_path / "off" / "hd.mp4", truth, kinds=("face",))
