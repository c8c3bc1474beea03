"""Geometry of display orientation (pure) and of the crops the full-resolution pass runs on."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from anonymizer.domain.orientation import (
    boxes_to_display, boxes_to_stored, display_size, quarter_turns,
)


@pytest.mark.parametrize("rotation,turns", [(0, 0), (90, 1), (-90, 3), (270, 3), (180, 2), (-180, 2), (89, 1)])
def test_quarter_turns(rotation, turns):
    assert quarter_turns(rotation) == turns


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_box_mapping_matches_numpy_rotation(turns):
    """A box drawn on the stored image lands, after np.rot90(turns), exactly where boxes_to_display says."""
    h, w = 60, 100
    stored = np.zeros((h, w), np.uint8)
    box = np.array([[10, 5, 30, 25]], np.float32)
    stored[5:25, 10:30] = 1
    shown = np.rot90(stored, turns)
    ys, xs = np.nonzero(shown)
    expected = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert display_size(w, h, turns) == (shown.shape[1], shown.shape[0])
    assert boxes_to_display(box, turns, w, h).tolist() == [expected]


coord = st.floats(0, 1, allow_nan=False)


@given(st.integers(0, 3), st.integers(16, 4000), st.integers(16, 4000), coord, coord, coord, coord)
def test_box_mapping_round_trips(turns, w, h, a, b, c, d):
    box = np.array([[min(a, c) * w, min(b, d) * h, max(a, c) * w, max(b, d) * h]], np.float32)
    back = boxes_to_stored(boxes_to_display(box, turns, w, h), turns, w, h)
    assert np.allclose(back, box, atol=1e-2)


@given(st.data())
def test_due_rects_hold_every_small_object_that_touches_a_change(data):
    """An object no larger than the margin with a pixel in a changed cell lies whole inside one rectangle, and
    the rectangles are inside the frame and merged wherever a union costs no more pixels."""
    from anonymizer.imaging.motion import due_rects

    w, h, scale, margin = data.draw(st.integers(64, 800)), data.draw(st.integers(64, 600)), 4, 48
    mask = np.zeros((-(-h // scale), -(-w // scale)), bool)
    for _ in range(data.draw(st.integers(0, 5))):
        cy, cx = data.draw(st.integers(0, mask.shape[0] - 1)), data.draw(st.integers(0, mask.shape[1] - 1))
        mask[cy : cy + data.draw(st.integers(1, 6)), cx : cx + data.draw(st.integers(1, 6))] = True
    rects = due_rects(mask, scale, margin, w, h, min_side=data.draw(st.sampled_from([0, 128])))
    assert (rects[:, 0] >= 0).all() and (rects[:, 2] <= w).all() and (rects[:, 3] <= h).all()
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    for i in range(len(rects)):
        for j in range(i + 1, len(rects)):
            a, b = rects[i], rects[j]
            union = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
            assert area(union) > area(a) + area(b)  # merged wherever merging costs nothing
    ys, xs = np.nonzero(mask)
    if len(ys):
        k = data.draw(st.integers(0, len(ys) - 1))
        px, py = xs[k] * scale, ys[k] * scale  # a pixel of that changed cell
        ow, oh = data.draw(st.integers(1, margin)), data.draw(st.integers(1, margin))
        ox = min(max(0, px - data.draw(st.integers(0, ow - 1))), w - ow)
        oy = min(max(0, py - data.draw(st.integers(0, oh - 1))), h - oh)
        inside = (rects[:, 0] <= ox) & (rects[:, 1] <= oy) & (rects[:, 2] >= ox + ow) & (rects[:, 3] >= oy + oh)
        assert inside.any()
    else:
        assert len(rects) == 0


@pytest.mark.parametrize("size,fine,native", [
    ((1280, 720), ("plate",), ("face",)),  # 720p: faces at full resolution in one pass, plates coarse + fine
    ((720, 1280), ("plate",), ("face",)),  # portrait
    ((1920, 1080), ("face", "plate"), ()),
    ((3840, 2160), ("face", "plate"), ()),
    ((960, 540), ("plate",), ()),  # the face input already: no scaling, nothing to add
    ((640, 360), (), ()),
])
def test_which_passes_run_at_full_resolution(size, fine, native):
    from anonymizer.pipelines.anonymise import fine_kinds_for, native_kinds_for
    from anonymizer.settings import AnonymiseSettings

    s = AnonymiseSettings()
    assert fine_kinds_for(*size, s, ("face", "plate")) == fine
    assert native_kinds_for(*size, s, ("face", "plate")) == native
    off = AnonymiseSettings(small_objects="off")
    assert fine_kinds_for(*size, off, ("face", "plate")) == () and native_kinds_for(*size, off, ("face", "plate")) == ()
