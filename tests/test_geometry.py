import numpy as np
from hypothesis import given, strategies as st

from anonymizer.domain.geometry import (
    clip_boxes, grid_tiles, iou_matrix, merge_enclosing, nms, scale_about_centre,
)

coord = st.floats(0, 2000, allow_nan=False, width=32)


@st.composite
def boxes(draw, n=st.integers(1, 6)):
    out = []
    for _ in range(draw(n)):
        x1, y1 = draw(coord), draw(coord)
        w, h = draw(st.floats(1, 500, width=32)), draw(st.floats(1, 500, width=32))
        out.append([x1, y1, x1 + w, y1 + h])
    return np.array(out, np.float32)


@given(boxes(), boxes())
def test_iou_is_symmetric_and_bounded(a, b):
    m = iou_matrix(a, b)
    assert m.shape == (len(a), len(b))
    assert np.allclose(m, iou_matrix(b, a).T)
    assert (m >= 0).all() and (m <= 1 + 1e-9).all()


@given(boxes())
def test_iou_with_itself_is_one(a):
    assert np.allclose(np.diag(iou_matrix(a, a)), 1.0)


def test_iou_known_value():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10]], np.float32)
    assert iou_matrix(a, b)[0, 0] == 50 / 150


@given(boxes(), st.floats(1.0, 3.0))
def test_scaling_keeps_centre_and_contains_original(a, f):
    s = scale_about_centre(a, f)
    assert np.allclose((s[:, 0] + s[:, 2]) / 2, (a[:, 0] + a[:, 2]) / 2, atol=1e-2)
    assert (s[:, 0] <= a[:, 0] + 1e-3).all() and (s[:, 3] >= a[:, 3] - 1e-3).all()
    assert np.allclose(s[:, 2] - s[:, 0], (a[:, 2] - a[:, 0]) * f, rtol=1e-4, atol=1e-2)


@given(boxes(), st.integers(1, 4000), st.integers(1, 4000))
def test_clip_boxes_stay_inside(a, w, h):
    c = clip_boxes(a, w, h)
    assert (c[:, [0, 2]] >= 0).all() and (c[:, [0, 2]] <= w).all()
    assert (c[:, [1, 3]] >= 0).all() and (c[:, [1, 3]] <= h).all()


@given(boxes(), st.floats(0.1, 0.9))
def test_nms_keeps_best_and_no_overlapping_pair(a, thr):
    scores = np.linspace(1, 0.1, len(a)).astype(np.float32)
    keep = nms(a, scores, thr)
    assert keep[0] == int(np.argmax(scores))
    kept = a[keep]
    m = iou_matrix(kept, kept)
    np.fill_diagonal(m, 0)
    assert (m < thr).all()


@given(boxes(), st.floats(0.1, 0.9))
def test_merging_loses_no_pixel_of_any_box(a, thr):
    # Two detectors' boxes of one object are merged into one that encloses both: whatever either box covered is
    # still covered (privacy); the best score leads.
    scores = np.linspace(1, 0.1, len(a)).astype(np.float32)
    merged, merged_scores = merge_enclosing(a, scores, thr)
    assert 1 <= len(merged) <= len(a) and len(merged_scores) == len(merged)
    for box in a:
        inside = ((merged[:, 0] <= box[0]) & (merged[:, 1] <= box[1])
                  & (merged[:, 2] >= box[2]) & (merged[:, 3] >= box[3]))
        assert inside.any()
    assert merged_scores[0] == scores.max()


def test_merging_keeps_apart_what_does_not_overlap():
    a = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [100, 100, 110, 110]], np.float32)
    merged, scores = merge_enclosing(a, np.array([0.5, 0.9, 0.3], np.float32), 0.5)
    assert merged.tolist() == [[0, 0, 11, 10], [100, 100, 110, 110]]
    assert scores.tolist() == [np.float32(0.9), np.float32(0.3)]


@given(st.integers(1, 9000), st.integers(1, 5000), st.integers(64, 2000), st.integers(64, 1200),
       st.integers(0, 62), st.data())
def test_every_small_box_lies_whole_inside_one_tile(width, height, tile_w, tile_h, overlap, data):
    tiles = grid_tiles(width, height, tile_w, tile_h, overlap)
    assert ((tiles[:, 2] - tiles[:, 0]) <= tile_w).all() and ((tiles[:, 3] - tiles[:, 1]) <= tile_h).all()
    assert (tiles[:, :2] >= 0).all() and (tiles[:, 2] <= width).all() and (tiles[:, 3] <= height).all()
    bw, bh = data.draw(st.integers(1, min(overlap, width) or 1)), data.draw(st.integers(1, min(overlap, height) or 1))
    bw, bh = min(bw, width), min(bh, height)
    x, y = data.draw(st.integers(0, width - bw)), data.draw(st.integers(0, height - bh))
    inside = ((tiles[:, 0] <= x) & (tiles[:, 1] <= y) & (tiles[:, 2] >= x + bw) & (tiles[:, 3] >= y + bh))
    assert inside.any(), (x, y, bw, bh, tiles)


def test_tiles_are_few():
    assert grid_tiles(3840, 2160, 2048, 1152, 128).tolist() == [
        [0, 0, 2048, 1152], [1792, 0, 3840, 1152], [0, 1008, 2048, 2160], [1792, 1008, 3840, 2160]]
    assert grid_tiles(1920, 1080, 2048, 1152, 128).tolist() == [[0, 0, 1920, 1080]]


def test_thin_plates_get_a_vertical_margin():
    from anonymizer.domain.regions import pad_plates

    p = pad_plates(np.array([[100, 100, 200, 125]], np.float32), 0.1)  # 100 x 25 plate
    assert np.allclose(p, [[90, 95, 210, 130]])  # 10 % of the width per side; 5 % of the width above and below
    tall = pad_plates(np.array([[0, 0, 40, 40]], np.float32), 0.1)
    assert np.allclose(tall, [[-4, -4, 44, 44]])


# ------------------------------------------------------------------------------- redundant boxes of one object


def _redundant(kept: np.ndarray, other: np.ndarray, iou: float, contain: float, area_ratio: float) -> bool:
    """``other`` is explained by the better box ``kept``: they overlap by IoU, or ``other`` lies ``contain`` inside
    ``kept``, which is at most 1 / area_ratio times larger."""
    inter = max(0.0, min(kept[2], other[2]) - max(kept[0], other[0])) * max(0.0, min(kept[3], other[3]) - max(kept[1], other[1]))
    a_kept = (kept[2] - kept[0]) * (kept[3] - kept[1])
    a_other = (other[2] - other[0]) * (other[3] - other[1])
    if iou_matrix(kept[None], other[None])[0, 0] >= iou:
        return True
    return a_other > 0 and inter / a_other >= contain and a_other >= area_ratio * a_kept


@given(boxes(n=st.integers(1, 8)), st.floats(0.3, 0.9), st.floats(0.5, 0.95), st.floats(0.05, 0.9))
def test_suppressing_redundant_boxes_drops_only_what_a_better_box_explains(a, iou, contain, ratio):
    from anonymizer.domain.geometry import suppress_redundant

    scores = np.linspace(1, 0.1, len(a)).astype(np.float32)  # box i is better than box j when i < j
    keep = suppress_redundant(a, scores, iou, contain, ratio)
    assert keep[0] == 0 and len(set(keep.tolist())) == len(keep)
    kept = sorted(keep.tolist())
    for j in range(len(a)):
        explained = [i for i in kept if i < j and _redundant(a[i], a[j], iou, contain, ratio)]
        if j in kept:  # kept: no better kept box explains it
            assert not explained, (j, explained)
        else:  # dropped: a better kept box explains it, so at most 1 - contain of it goes unredacted
            assert explained, j


def test_a_fragment_of_a_plate_is_dropped_but_a_plate_inside_a_large_box_is_kept():
    from anonymizer.domain.geometry import suppress_redundant

    plate = [100, 100, 200, 130]
    fragment = [150, 102, 198, 128]  # the right half, found at another scale: IoU 0.41, wholly inside the plate
    big = [0, 0, 400, 400]  # a box around the plate, 53 times its area
    boxes_ = np.array([big, plate, fragment], np.float32)
    assert suppress_redundant(boxes_, np.array([0.9, 0.6, 0.5], np.float32), 0.5, 0.7, 0.25).tolist() == [0, 1]
    # the fragment scoring best is kept, and so is the whole plate it does not hold: nothing of the plate is lost
    assert suppress_redundant(boxes_[1:], np.array([0.5, 0.9], np.float32), 0.5, 0.7, 0.25).tolist() == [1, 0]
    # two neighbouring faces that touch stay two
    two = np.array([[0, 0, 40, 40], [36, 0, 76, 40]], np.float32)
    assert len(suppress_redundant(two, np.array([0.9, 0.8], np.float32), 0.5, 0.7, 0.25)) == 2
