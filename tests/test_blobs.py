"""The detectors' input blobs (OpenCV's blobFromImage) hold exactly what the plain numpy formulas give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizer.inference import cascade, face, plate


@st.composite
def pictures(draw):
    h, w = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    rgb = np.random.default_rng(seed).integers(0, 256, (h + 3, w + 5, 3), dtype=np.uint8)
    # a view, as the pipeline passes crops: not contiguous
    return rgb[1 : h + 1, 2 : w + 2] if draw(st.booleans()) else np.ascontiguousarray(rgb[:h, :w])


@settings(max_examples=60, deadline=None)
@given(pictures())
def test_blobs_match_numpy(rgb):
    want = rgb.transpose(2, 0, 1)[None].astype(np.float32)
    got = face.to_blob(rgb)
    assert got.shape == want.shape and got.dtype == np.float32 and np.array_equal(got, want)

    want = (rgb[..., ::-1].astype(np.float32) - cascade.MEAN_BGR).transpose(2, 0, 1)[None]
    got = cascade.to_blob(rgb)
    assert got.shape == want.shape and got.dtype == np.float32 and np.array_equal(got, want)

    want = rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    for dtype in (np.float32, np.float16):
        got = plate.to_blob(rgb, dtype)
        assert got.shape == want.shape and got.dtype == dtype
        assert np.allclose(got.astype(np.float32), want, rtol=0, atol=1e-3 if dtype == np.float16 else 1e-7)
