"""Boxes carried along the picture's measured motion (domain.tracking + imaging.local_motion): where the object is,
not where it might be. Generated frames: a textured object on a textured background, detected on some keyframes."""

import numpy as np
import pytest

from anonymizer.domain.detections import Detections
from anonymizer.domain.tracking import BoxCarrier, CarryParams
from anonymizer.imaging.local_motion import LocalMotion

W, H = 480, 270
OW, OH = 36, 24  # the object's box


def _scene(n, where, occluded=lambda f: False, seed=3):
    """``n`` luma frames: a fixed textured background, the object (its own texture) drawn at ``where(f)`` (x, y
    of its top-left, None when it is not there), a flat grey bar over it while ``occluded(f)``."""
    rng = np.random.default_rng(seed)
    background = (rng.integers(60, 200, (H // 6 + 1, W // 6 + 1)).repeat(6, 0).repeat(6, 1)[:H, :W]).astype(np.uint8)
    texture = rng.integers(0, 255, (OH // 3, OW // 3)).repeat(3, 0).repeat(3, 1).astype(np.uint8)
    frames = []
    for f in range(n):
        luma = background.copy()
        at = where(f)
        if at is not None:
            x, y = int(round(at[0])), int(round(at[1]))
            x1, y1, x2, y2 = max(0, x), max(0, y), min(W, x + OW), min(H, y + OH)
            if x2 > x1 and y2 > y1:
                luma[y1:y2, x1:x2] = texture[y1 - y:y2 - y, x1 - x:x2 - x]
        if occluded(f) and at is not None:
            x = int(round(at[0]))
            luma[:, max(0, x - 40):min(W, x + OW + 40)] = 128
        frames.append(luma)
    return frames


def _box(at):
    return np.array([at[0], at[1], at[0] + OW, at[1] + OH], np.float32)


def _visible(at):
    """The object's box clipped to the picture (None when none of it is in)."""
    b = _box(at)
    c = np.array([max(0, b[0]), max(0, b[1]), min(W, b[2]), min(H, b[3])], np.float32)
    return c if c[2] - c[0] >= 1 and c[3] - c[1] >= 1 else None


def _carry(frames, detected, stride=5):
    """A carrier fed every frame's luma and the keyframes' detections (``detected(f)`` -> box or None), the clip's
    end known; returns it."""
    carrier = BoxCarrier(CarryParams(stride=stride, extend=4), motion=(motion := LocalMotion(W, H, len(frames))))
    for f, luma in enumerate(frames):
        motion.add(f, luma)
    last = len(frames) - 1
    for f in range(len(frames)):
        if carrier.is_keyframe(f) or f == last:
            box = detected(f)
            carrier.observe(f, Detections.from_boxes([box]) if box is not None else Detections.empty())
    carrier.finish(last)
    return carrier


def _covered(boxes, target):
    return any(b[0] <= target[0] + 0.5 and b[1] <= target[1] + 0.5 and b[2] >= target[2] - 0.5 and b[3] >= target[3] - 0.5
               for b in boxes)


def _area(boxes):
    """Covered pixels (union of the boxes, clipped to the picture)."""
    mask = np.zeros((H, W), bool)
    for b in boxes:
        x1, y1 = max(0, int(np.floor(b[0]))), max(0, int(np.floor(b[1])))
        x2, y2 = min(W, int(np.ceil(b[2]))), min(H, int(np.ceil(b[3])))
        mask[y1:y2, x1:x2] = True
    return int(mask.sum())


OBJECT = OW * OH
# The measured box is the object padded by at most TRACK_PAD_MAX of its larger side per side: 2 x 36 by 36 + 24.
BOUND = 2 * OW * (OH + OW) / OBJECT


def test_a_track_that_leaves_the_picture_is_covered_to_its_last_pixel_and_no_further():
    where = lambda f: (300 + 6 * f, 120)  # noqa: E731  (leaves on the right at frame 30)
    frames = _scene(50, where)
    carrier = _carry(frames, lambda f: _box(where(f)) if f <= 25 else None)  # not found once half out
    for f in range(50):
        boxes, _ = carrier.boxes(f)
        seen = _visible(where(f))
        if seen is not None:
            assert _covered(boxes, seen), f
            assert _area(boxes) <= BOUND * OBJECT, f
        elif f > 31:  # it left at frame 30: one frame of grace, then nothing
            assert len(boxes) == 0, f


def test_a_track_occluded_for_a_second_is_covered_whenever_it_shows():
    where = lambda f: (60 + 2 * f, 120)  # noqa: E731
    hidden = lambda f: 30 <= f < 55  # noqa: E731  (a second at 25 fps)
    frames = _scene(80, where, hidden)
    carrier = _carry(frames, lambda f: None if hidden(f) else _box(where(f)))
    for f in range(80):
        boxes, _ = carrier.boxes(f)
        if not hidden(f):
            assert _covered(boxes, _box(where(f))), f
            assert _area(boxes) <= BOUND * OBJECT, f
        else:  # the straight line between the observations around it, padded by at most a quarter of the 50 px moved
            assert _area(boxes) <= (OW + 2 * 12.5 + 2) * (OH + 2 * 12.5 + 2), f


def test_a_track_that_stops_stays_one_box_to_the_clip_end():
    where = lambda f: (100 + 3 * min(f, 30), 100)  # noqa: E731  (parks at frame 30)
    frames = _scene(120, where)
    carrier = _carry(frames, lambda f: _box(where(f)) if f <= 105 else None)  # missed on the last keyframes
    for f in range(120):
        boxes, _ = carrier.boxes(f)
        assert _covered(boxes, _box(where(f))), f
        assert _area(boxes) <= BOUND * OBJECT, f


def test_a_clip_that_ends_with_the_object_in_view_covers_it_to_the_last_frame_without_growing():
    where = lambda f: (40 + 4 * f, 80 + f)  # noqa: E731
    frames = _scene(60, where)
    carrier = _carry(frames, lambda f: _box(where(f)) if f <= 45 else None)  # missed on the last keyframes
    for f in range(40, 60):
        boxes, _ = carrier.boxes(f)
        assert _covered(boxes, _box(where(f))), f
        assert _area(boxes) <= BOUND * OBJECT, f


def test_without_texture_the_straight_line_carries_as_before():
    """A flat picture has no motion to measure: the track falls back to its observations' straight line."""
    frames = [np.full((H, W), 90, np.uint8) for _ in range(30)]
    where = lambda f: (100 + 2 * f, 100)  # noqa: E731
    carrier = _carry(frames, lambda f: _box(where(f)) if f <= 10 else None)
    plain = _carry(frames, lambda f: _box(where(f)) if f <= 10 else None)
    plain.motion = None
    for f in range(30):
        a, b = carrier.boxes(f)[0], plain.boxes(f)[0]
        assert a.shape == b.shape and np.allclose(a, b), f


@pytest.mark.parametrize("scale_side", [480, 1920, 3840])
def test_a_step_finds_the_shift_at_any_picture_size(scale_side):
    """LocalMotion keeps frames reduced (longer side <= MOTION_SIDE) and answers in frame pixels."""
    h = scale_side * 9 // 16
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h // 8 + 2, scale_side // 8 + 2)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
    a, b = base[8:8 + h, 8:8 + scale_side], base[0:h, 16:16 + scale_side]  # b: the picture moved by (-8, +8)
    m = LocalMotion(scale_side, h, 2)
    m.add(0, np.ascontiguousarray(a))
    m.add(1, np.ascontiguousarray(b))
    box = np.array([scale_side / 2, h / 2, scale_side / 2 + 60, h / 2 + 40], np.float32)
    moved, score = m.step(box, 0, 1)
    assert score > 0.6  # well over MATCH_MIN; not 1: at 4K the 8 px shift is 1.3 px of the reduced frames
    assert np.allclose(moved - box, [-8, 8, -8, 8], atol=m.scale)
