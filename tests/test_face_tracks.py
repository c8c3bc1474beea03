"""Face tracks inside one clip, by position only, and the keep mask that spares the chosen track's boxes."""

import numpy as np
from hypothesis import given, settings, strategies as st

from anonymizer.domain.face_tracks import Track, keep_mask, link_tracks, tracks_from_json, tracks_to_json


def box(cx, cy, s=40.0):
    return [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2]


def two_walkers(n=30, step=1):
    """Face A walks right along y=100, face B walks left along y=300."""
    return [(f, np.array([box(50 + 5 * f, 100), box(400 - 5 * f, 300)], np.float32)) for f in range(0, n, step)]


def test_two_faces_give_two_tracks_in_order_of_appearance():
    tracks = link_tracks(two_walkers())
    assert [t.id for t in tracks] == [1, 2]
    a, b = tracks
    assert len(a.frames) == len(b.frames) == 30
    assert np.allclose(a.box_at(10), box(100, 100)) and np.allclose(b.box_at(10), box(350, 300))


def test_gaps_are_bridged_and_interpolated_but_not_extended():
    obs = [(f, np.array([box(50 + 5 * f, 100)], np.float32)) for f in (0, 4, 8)]
    (t,) = link_tracks(obs, max_gap=5)
    assert np.allclose(t.box_at(2), box(60, 100))
    assert t.box_at(9) is None and t.box_at(-1) is None
    assert len(link_tracks(obs, max_gap=2)) == 3  # too far apart: separate tracks


def test_keep_mask_keeps_only_the_chosen_track():
    a, b = link_tracks(two_walkers(step=5), max_gap=6)
    # what the anonymiser is about to redact on frame 7: both faces, slightly grown (carried boxes)
    boxes = np.array([box(85, 100, 46), box(365, 300, 46), box(600, 50, 30)], np.float32)
    assert keep_mask([a], 7, boxes).tolist() == [True, False, False]
    assert keep_mask([b], 7, boxes).tolist() == [False, True, False]
    assert keep_mask([a, b], 7, boxes).tolist() == [True, True, False]
    assert keep_mask([], 7, boxes).tolist() == [False, False, False]
    assert keep_mask([a], 29, boxes).tolist() == [False, False, False]  # after the track: nothing kept
    assert keep_mask([a], 7, np.zeros((0, 4), np.float32)).shape == (0,)


def test_one_box_per_track_and_frame():
    (a,) = link_tracks([(0, np.array([box(100, 100)], np.float32))])
    twins = np.array([box(100, 100), box(102, 100)], np.float32)
    assert keep_mask([a], 0, twins).tolist() == [True, False]


def test_json_round_trip():
    tracks = link_tracks(two_walkers(step=3))
    back = tracks_from_json(tracks_to_json(tracks))
    assert [t.id for t in back] == [t.id for t in tracks]
    assert all(np.allclose(x.boxes, y.boxes) and x.frames == y.frames for x, y in zip(back, tracks))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 600), st.floats(0, 400), st.floats(10, 80)), min_size=1, max_size=4),
       st.integers(1, 4))
def test_every_detection_is_in_exactly_one_track(faces, step):
    obs = [(f, np.array([box(x + f, y, s) for x, y, s in faces], np.float32)) for f in range(0, 12, step)]
    tracks = link_tracks(obs)
    total = sum(len(t.frames) for t in tracks)
    assert total == sum(len(b) for _, b in obs)
    for t in tracks:
        assert list(t.frames) == sorted(set(t.frames))  # one box per frame per track
