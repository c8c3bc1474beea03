"""The over-redaction figures: the report's redacted share (``domain.redacted_area``) and the benchmark's wiped
share of textured blocks (benchmarks/wiped.py, not installed)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizer.domain.redacted_area import ShareTally, redacted_share
from anonymizer.domain.regions import Regions
from anonymizer.imaging.redact import region_mask

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import wiped  # noqa: E402


def rects(*boxes: list[float]) -> Regions:
    return Regions(np.zeros((0, 4), np.float32), np.asarray(boxes, np.float32).reshape(-1, 4))


def test_known_rectangles_give_their_union() -> None:
    assert redacted_share(Regions.empty(), 640, 480) == 0.0
    assert redacted_share(rects([0, 0, 640, 480]), 640, 480) == 1.0
    assert redacted_share(rects([0, 0, 320, 480]), 640, 480) == 0.5
    # Two overlapping rectangles: their union (3/8 + 3/8 - 1/8 of the frame), never their sum.
    assert redacted_share(rects([0, 0, 240, 480], [160, 0, 400, 480]), 640, 480) == pytest.approx(400 / 640)
    # A rectangle over the frame's edge counts only inside; a frame not a multiple of the grid is weighed right.
    assert redacted_share(rects([-100, -100, 2000, 2000]), 643, 481) == 1.0


def test_an_ellipse_takes_a_quarter_pi_of_its_box() -> None:
    ellipse = Regions(np.asarray([[160, 80, 480, 400]], np.float32), np.zeros((0, 4), np.float32))
    assert redacted_share(ellipse, 640, 480) == pytest.approx(np.pi / 4 * 320 * 320 / (640 * 480), rel=0.03)
    # Inside a rectangle that encloses it: the union is the rectangle.
    both = ellipse.merged(rects([160, 80, 480, 400]))
    assert redacted_share(both, 640, 480) == pytest.approx(320 * 320 / (640 * 480))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 700), st.floats(-50, 500), st.floats(4, 400), st.floats(4, 300),
                          st.booleans()), max_size=6))
def test_the_share_follows_the_pixel_mask(boxes) -> None:
    """The coarse grid agrees with the pixels redact_plane changes, within the grid's edge error."""
    e = [[x, y, x + w, y + h] for x, y, w, h, ell in boxes if ell]
    r = [[x, y, x + w, y + h] for x, y, w, h, ell in boxes if not ell]
    regions = Regions(np.asarray(e, np.float32).reshape(-1, 4), np.asarray(r, np.float32).reshape(-1, 4))
    regions = Regions(np.clip(regions.ellipses, 0, [640, 480, 640, 480]), np.clip(regions.rects, 0, [640, 480, 640, 480]))
    exact = float(region_mask(regions, 640, 480).mean())
    edge = sum(2 * ((b[2] - b[0]) + (b[3] - b[1])) * 8 for b in np.concatenate([regions.ellipses, regions.rects]))
    assert 0.0 <= redacted_share(regions, 640, 480) <= 1.0
    assert abs(redacted_share(regions, 640, 480) - exact) <= edge / (640 * 480) + 1e-9


def test_the_tally_gives_mean_and_worst_frame() -> None:
    t = ShareTally()
    for i, s in enumerate([0.0, 0.1, 0.4, 0.1]):
        t.add(i, s)
    assert t.as_report() == {"mean": 0.15, "worst": 0.4, "worst_frame": 2}
    assert ShareTally().as_report() == {"mean": 0.0, "worst": 0.0, "worst_frame": 0}


def test_wiped_blocks_counts_blurred_texture_only() -> None:
    rng = np.random.default_rng(0)
    luma = rng.integers(0, 255, (96, 128)).astype(np.uint8)
    luma[:, 96:] = 120  # flat: never textured, whatever happens to it
    assert wiped.wiped_blocks(luma, luma.copy()) == (6 * 6, 0)
    noisy = np.clip(luma.astype(np.int16) + rng.integers(-3, 4, luma.shape), 0, 255).astype(np.uint8)
    assert wiped.wiped_blocks(luma, noisy)[1] == 0  # coding noise is no wipe
    out = luma.copy()
    out[0:32, 0:32] = cv2.GaussianBlur(out[0:32, 0:32], (0, 0), 8)  # four blocks blurred
    out[:, 96:] = 0  # the flat part filled: nothing counted
    assert wiped.wiped_blocks(luma, out) == (36, 4)
    tally = wiped.Wiped()
    tally.add(0, 36, 0)
    tally.add(1, 36, 9)
    assert tally.figures()["mean"] == 0.125 and tally.figures()["worst"] == 0.25 and tally.figures()["worst_frame"] == 1
