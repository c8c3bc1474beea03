"""Keyframe cadence for a clip's frame rate: the configured strides are meant at 25 fps; slower clips get at least
as many keyframes per second, never fewer."""

from hypothesis import given, strategies as st

from anonymizer.domain.cadence import REFERENCE_FPS, frames_within, stride_for_rate


@given(stride=st.integers(1, 60), rate=st.floats(0.5, 240))
def test_a_stride_never_grows_and_never_spaces_keyframes_wider_in_time(stride, rate):
    s = stride_for_rate(stride, rate)
    assert 1 <= s <= stride
    if rate >= REFERENCE_FPS:
        assert s == stride
    else:
        assert s == 1 or s / rate <= stride / REFERENCE_FPS + 1e-9


def test_a_10_fps_clip_detects_every_fifth_of_a_second():
    assert stride_for_rate(5, 10) == 2 and stride_for_rate(10, 10) == 4
    assert stride_for_rate(5, 29.97) == 5 and stride_for_rate(5, None) == 5


@given(seconds=st.floats(0.1, 60), frames=st.integers(1, 2000), rate=st.one_of(st.none(), st.floats(0.5, 240)))
def test_a_bound_in_seconds_is_never_looser_than_its_frames_at_25_fps(seconds, frames, rate):
    n = frames_within(seconds, rate, frames)
    assert 1 <= n <= frames
    if rate:
        assert n == 1 or n / rate <= seconds + 1e-9


def test_a_10_fps_clip_runs_its_detectors_every_fifth_of_a_second(tmp_path, detectors):
    from fractions import Fraction

    import numpy as np

    from anonymizer.imaging.scene import scene_frames
    from anonymizer.media.synth import write_video
    from anonymizer.pipelines.anonymise import anonymise_file
    from anonymizer.settings import AnonymiseSettings

    frames = [f for f, _ in scene_frames(320, 180, 21)]
    ten = write_video(tmp_path / "ten.mp4", frames, rate=Fraction(10))
    twenty_five = write_video(tmp_path / "tf.mp4", frames, rate=Fraction(25))
    slow = anonymise_file(ten, tmp_path / "out" / "ten.mp4", AnonymiseSettings(residual_samples=0), detectors)
    usual = anonymise_file(twenty_five, tmp_path / "out" / "tf.mp4", AnonymiseSettings(residual_samples=0), detectors)
    assert slow.strides == {"face": 2, "plate": 4} and usual.strides == {"face": 5, "plate": 10}
    assert slow.keyframes["face"] == 11 and usual.keyframes["face"] == 5  # 0, 2, ..., 20 / 0, 5, 10, 15, 20
    assert slow.settings["face_stride"] == 5  # the report keeps what was configured
    assert slow.static_recheck == 100 and usual.static_recheck == 250
    assert np.isfinite(slow.fps)
