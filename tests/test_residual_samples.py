"""Which redacted frames the residual check looks at: spread over the clip, off the detectors' keyframes."""

from hypothesis import given
from hypothesis import strategies as st

from anonymizer.pipelines.anonymise import _sample_indices


def test_samples_avoid_keyframes_where_the_detectors_already_ran():
    got = sorted(_sample_indices(150, 32, (5, 10)))
    assert got == [1, 31, 61, 91, 119, 148]
    assert all(i % 5 and i % 10 for i in got) and 149 not in got  # the last frame is always a keyframe


@given(st.integers(1, 3000), st.integers(0, 64), st.sampled_from([(5, 10), (1, 1), (3, 7), (30, 60)]))
def test_samples_keep_their_number_and_stay_in_the_clip(frames, samples, strides):
    got = _sample_indices(frames, samples, strides)
    if samples == 0:
        assert got == set()
        return
    want = min(samples, max(2, -(-frames // 25)))
    assert len(got) == min(want, frames)
    assert all(0 <= i < frames for i in got)
    if want < frames and frames > 2 * max(strides) + 2:
        assert all(all(i % s for s in strides if s > 1) for i in got) and frames - 1 not in got
