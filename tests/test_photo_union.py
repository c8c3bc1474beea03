"""A photo's redaction covers every box of every pass: a box dropped from the detections as redundant (a duplicate
or a part of a better one, ``suppress_redundant``) still has its pixels redacted."""

from types import SimpleNamespace

import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.imaging.redact import region_mask
from anonymizer.pipelines.anonymise import regions_for_image
from anonymizer.settings import AnonymiseSettings

KEPT = [300.0, 200.0, 400.0, 230.0]
LOOSER = [300.0, 200.0, 440.0, 230.0]  # IoU 0.71 with KEPT, lower score: suppressed as its duplicate


class _TwoBoxes:
    """Plumbing stub: every plate pass finds the same two overlapping boxes, the better one narrower."""

    kind = "plate"
    threshold = 0.2

    def input_size(self, w, h):
        return w, h

    def _found(self, *_, **__):
        return Detections(np.array([KEPT, LOOSER], np.float32), np.array([0.9, 0.5], np.float32))

    detect = detect_native = detect_enlarged = _found


def test_a_suppressed_duplicate_is_still_redacted():
    rgb = np.full((360, 640, 3), 120, np.uint8)
    regions, found = regions_for_image(rgb, AnonymiseSettings(), {"plate": SimpleNamespace(detector=_TwoBoxes())})
    assert len(found["plate"]) == 1 and np.allclose(found["plate"].xyxy[0], KEPT)  # one detection per object
    mask = region_mask(regions, 640, 360)
    assert mask[200:230, 300:440].all()  # both boxes' pixels, the part only the suppressed one covers included
    assert not mask[:150].any() and not mask[:, 500:].any()  # and nothing far from them
