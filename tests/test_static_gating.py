"""Static gating (issue 10): on fixed-camera footage a keyframe where nothing changed since the previous detector run
carries that run's detections on instead of running the detector. Privacy first: whatever appears is still found
(the thumbnails notice the change), and a face that sits still stays redacted past the recheck bound. And
``copy_unchanged`` on the same footage: the GOPs without a redaction are copied from the input."""

from pathlib import Path

import av
import numpy as np
import pytest

from anonymizer.imaging.motion import thumbnail, unchanged
from anonymizer.imaging.scene import crossing_face, face_sprite, static_scene_frames
from anonymizer.media.synth import write_video
from anonymizer.pipelines import anonymise as anonymise_module
from anonymizer.pipelines.anonymise import STATIC_RECHECK, anonymise_file
from anonymizer.settings import AnonymiseSettings
from tests.test_anonymise_privacy import assert_unreadable

W, H = 1600, 900  # above both detectors' coarse sizes (faces: by more than NATIVE_WITHIN): the full-resolution passes are gated too


def luma(rgb: np.ndarray) -> np.ndarray:
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.uint8)


def test_sensor_noise_is_unchanged_and_a_small_face_is_a_change():
    still = [f for f, _ in static_scene_frames(W, H, 6, (99, 99))]
    thumbs = [thumbnail(luma(f)) for f in still]
    assert not np.array_equal(still[0], still[1])  # the noise is new on every frame
    assert all(unchanged(thumbs[0], t) for t in thumbs[1:])
    face = face_sprite()
    face = face.scaled(16 / (face.box[3] - face.box[1]))  # a 16-pixel face: the smallest the pipeline promises
    for x, y in [(0.1, 0.1), (0.5, 0.45), (0.8, 0.7)]:
        frames = [f for f, _ in static_scene_frames(W, H, 2, (1, 2), face, ((x, y), (x, y)), seed=3)]
        assert not unchanged(thumbnail(luma(frames[0])), thumbnail(luma(frames[1]))), (x, y)
    assert not unchanged(thumbs[0], thumbs[0][:-1])  # another size is never "unchanged"


def make_clip(path: Path, n: int, visible: tuple[int, int], face_px: int = 100) -> tuple[Path, list[dict]]:
    """A fixed camera with sensor noise; the astronaut's face (``face_px`` tall) stands still at one place on frames
    ``visible``."""
    face = crossing_face(H, face_px / H)
    frames, truth = [], []
    for f, t in static_scene_frames(W, H, n, visible, face, ((0.35, 0.3), (0.35, 0.3))):
        frames.append(f)
        truth.append(t)
    return write_video(path, frames), truth


@pytest.mark.slow
@pytest.mark.parametrize("face_px", [100, 20])
def test_a_face_appearing_in_a_static_scene_is_redacted_on_every_frame(tmp_path, detectors, monkeypatch, face_px):
    """The face pops in between keyframes after 33 frames of a still scene and stands still: the next keyframe
    sees the change, runs the detectors (a 20 px face: the full-resolution pass around the change), and the
    track's lead covers the frames before it."""
    src, truth = make_clip(tmp_path / "in" / "static.mp4", 80, (33, 80), face_px)
    dst = tmp_path / "out" / "static.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(), detectors)
    assert report.status == "published"
    assert report.static_keyframes["face"] >= 8 and report.static_keyframes["face_fine"] >= 8  # gated before and after
    assert_unreadable(src, dst, truth, kinds=("face",))
    # A gate blind to change (and no residual check to catch it) leaks: the test can fail.
    monkeypatch.setattr(anonymise_module, "unchanged", lambda a, b: True)
    blind = tmp_path / "blind" / "static.mp4"
    anonymise_file(src, blind, AnonymiseSettings(residual_samples=0), detectors)
    with pytest.raises(AssertionError):
        assert_unreadable(src, blind, truth, kinds=("face",))


@pytest.mark.slow
def test_a_face_sitting_still_past_the_recheck_bound_stays_redacted(tmp_path, detectors, monkeypatch):
    """A face still for longer than the static bound: its carried detections keep its track observed (not lost)
    on every gated keyframe, and the recheck finds it again. The bound is lowered to 100 frames (from
    STATIC_RECHECK) to keep the clip short; nothing else depends on its value."""
    bound = 100
    assert bound < STATIC_RECHECK
    monkeypatch.setattr(anonymise_module, "STATIC_RECHECK", bound)
    n = bound + 60
    src, truth = make_clip(tmp_path / "in" / "still.mp4", n, (8, n))
    dst = tmp_path / "out" / "still.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(), detectors)
    assert report.status == "published" and report.static_recheck == bound
    runs = report.keyframes["face"] - report.static_keyframes["face"]
    assert report.static_keyframes["face"] >= bound // AnonymiseSettings().face_stride - 4
    assert runs >= 3  # the first frame, the face's arrival, the recheck (at most STATIC_RECHECK frames later)
    assert_unreadable(src, dst, truth, kinds=("face",))


@pytest.mark.slow
def test_copy_unchanged_copies_the_gops_without_a_face_and_redacts_the_others(tmp_path, detectors):
    """--copy-unchanged on a fixed camera: the GOPs the face never enters are the input's frames, pixel for pixel;
    the face is redacted on every frame; frame count and timestamps are the input's."""
    face = crossing_face(360)
    frames, truth = [], []
    for f, t in static_scene_frames(640, 360, 100, (40, 60), face, ((0.3, 0.2), (0.4, 0.25))):
        frames.append(f)
        truth.append(t)
    src = write_video(tmp_path / "in" / "cam.mp4", frames, gop=25)
    dst = tmp_path / "out" / "cam.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(copy_unchanged=True), detectors)
    assert report.status == "published" and report.copy["used"], report.copy
    assert report.copy["gops"] == 4 and report.copy["copied_gops"] == 2, report.copy  # 0-24 and 75-99
    assert report.verification["frames_match"] and report.verification["timestamps_match"]
    assert_unreadable(src, dst, truth, kinds=("face",))
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        pairs = list(zip(a.decode(video=0), b.decode(video=0)))
    assert len(pairs) == 100
    for i, (fa, fb) in enumerate(pairs):
        assert fa.pts * fa.time_base == fb.pts * fb.time_base
        if i < 25 or i >= 75:
            assert np.array_equal(fa.to_ndarray(format="yuv420p"), fb.to_ndarray(format="yuv420p")), i


def test_copy_unchanged_is_refused_where_it_cannot_hold(tmp_path):
    from anonymizer.pipelines.anonymise import copy_refusal

    src = write_video(tmp_path / "a.mp4", [f for f, _ in static_scene_frames(64, 48, 4, (9, 9))], gop=2)
    s = AnonymiseSettings(copy_unchanged=True)
    assert copy_refusal(src, tmp_path / "o.mp4", s, False) is None
    assert "codec" in copy_refusal(src, tmp_path / "o.mp4", s.with_(codec="libx265"), False)
    assert "audio" in copy_refusal(src, tmp_path / "o.mp4", s.with_(keep_audio=True), True)


@pytest.mark.slow
def test_residual_samples_showing_the_last_checked_picture_are_not_checked_again(tmp_path, detectors):
    """A still scene: the first residual sample is checked; the samples after it show the same redacted picture
    (the detectors would find the same nothing) and are counted as unchanged instead. Once a face appears, the
    redacted picture differs from the one checked, and the next sample is checked again."""
    settings = AnonymiseSettings()
    still, _ = make_clip(tmp_path / "in" / "still.mp4", 100, (100, 100))
    report = anonymise_file(still, tmp_path / "out" / "still.mp4", settings, detectors)
    samples = len(report.residual["sampled_frames"])
    assert samples >= 3
    assert report.residual["checked_frames"] == 1
    assert report.residual["unchanged_samples"] == samples - 1

    face, _ = make_clip(tmp_path / "in" / "face.mp4", 100, (50, 100))
    report = anonymise_file(face, tmp_path / "out" / "face.mp4", settings, detectors)
    assert report.status == "published"
    assert report.residual["checked_frames"] >= 2
    assert report.residual["checked_frames"] + report.residual["unchanged_samples"] == len(report.residual["sampled_frames"])
