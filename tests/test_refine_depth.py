"""How often the full-resolution pass is refined between its keyframes (plumbing: stub detectors, real video)."""

import numpy as np
import pytest

from anonymizer.domain.detections import Detections
from tests.conftest import make_scene_clip


class _JumpingPlates:
    """Finds nothing on the scaled-down frame, and one small plate at a new place on every full-resolution run:
    plates keep appearing and leaving, so every interval asks for refinement."""

    kind, threshold = "plate", 0.2

    def __init__(self):
        self.calls = 0

    def input_size(self, w, h):
        return 640, 360

    def detect(self, rgb, src_w, src_h):
        return Detections.empty()

    def detect_native(self, rgb):
        self.calls += 1
        h, w = rgb.shape[:2]
        x, y = (self.calls * 397) % max(1, w - 60), (self.calls * 211) % max(1, h - 20)
        return Detections.from_boxes([[x, y, x + 50, y + 15]], 0.9)


@pytest.mark.parametrize("depth", [1, 2])
def test_plate_full_resolution_pass_is_refined_at_most_depth_halvings(tmp_path, models_ready, monkeypatch, depth):
    from anonymizer.inference.detectors import LoadedDetector
    from anonymizer.inference.manifest import installed, load_manifest
    from anonymizer.pipelines import anonymise
    from anonymizer.settings import AnonymiseSettings

    monkeypatch.setitem(anonymise.FINE_REFINE_DEPTH, "plate", depth)
    src = tmp_path / "in.mp4"
    make_scene_clip(src, 1280, 720, n=41)
    det = LoadedDetector(_JumpingPlates(), installed(load_manifest()["platedet"]))  # type: ignore[arg-type]
    settings = AnonymiseSettings(residual_samples=0)
    report = anonymise.anonymise_file(src, tmp_path / "out.mp4", settings, {"plate": det})
    intervals = report.keyframes["plate_fine"] - 1
    assert intervals == 2  # fine keyframes 0, 20, 40
    assert 1 <= report.refined_frames["plate_fine"] <= intervals * (2 ** depth - 1)
    if depth == 1:
        assert report.refined_frames["plate_fine"] == intervals
    else:
        assert report.refined_frames["plate_fine"] > intervals  # the stub does ask for more


def test_default_refines_plates_full_resolution_pass_once_per_interval():
    from anonymizer.pipelines.anonymise import FINE_REFINE_DEPTH, REFINE_DEPTH

    assert FINE_REFINE_DEPTH == {"face": REFINE_DEPTH, "plate": 1}
