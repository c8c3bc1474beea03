"""Images to calibrate int8 models on, made here: never evaluation footage.

scikit-image's bundled public-domain photos (those that need no download) and the synthetic scenes of
``anonymizer.imaging.scene`` (a real face photo and a rendered plate moving over a real background) at 720p and
1080p. Deterministic: the same images, in the same order, on every machine.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from anonymizer.imaging.scene import scene_frames

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "horse", "immunohistochemistry", "retina",
          "brick", "grass", "gravel", "logo", "page", "text", "clock", "moon")
SCENE_SIZES = ((1280, 720), (1920, 1080))


def calibration_images() -> Iterator[np.ndarray]:
    """RGB uint8 images (H, W, 3): the photos, then every sixth frame of a 60-frame scene at each size."""
    from skimage import data

    for name in PHOTOS:
        loader = getattr(data, name, None)
        if loader is None:
            continue
        try:
            img = loader()
        except Exception:  # noqa: BLE001 - a photo this scikit-image would have to download is left out
            continue
        if img.dtype != np.uint8:
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        yield np.ascontiguousarray(img[..., :3])
    for width, height in SCENE_SIZES:
        for i, (frame, _truth) in enumerate(scene_frames(width, height, 60)):
            if i % 6 == 0:
                yield frame
