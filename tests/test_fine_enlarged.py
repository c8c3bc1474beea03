"""Video frames: the plates' full-resolution pass sees the frame enlarged 2x (real models, a rendered plate on a
real background)."""

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizer.domain.geometry import grid_tiles
from anonymizer.imaging.scene import background, render_plate
from anonymizer.inference.pictures import ENLARGE_OVERLAP, FINE_TILE_PIXELS, fine_tile
from anonymizer.media.synth import write_video
from anonymizer.pipelines.anonymise import anonymise_file
from anonymizer.pipelines.detection import FINE_SECOND_TILE_PIXELS, FrameDetector, enlarged_for
from anonymizer.settings import AnonymiseSettings
from tests.test_anonymise_privacy import assert_unreadable

# A plate 80 px wide on the rocket at 720p that platedet and clpdet miss at the frame's own size and platedet finds
# on the frame enlarged 2x (benchmarks/README.md, "Plates on video: the full-resolution pass enlarged").
PLATE_AT = (576, 432, 80, 24)


def _plate_clip(path, frames=12):
    x, y, w, h = PLATE_AT
    frame = background(1280, 720).copy()
    frame[y : y + h, x : x + w] = cv2.resize(render_plate(), (w, h), interpolation=cv2.INTER_AREA)
    truth = [{"face": [], "plate": [[x, y, x + w, y + h]]}] * frames
    return write_video(path, [frame] * frames), truth


def test_a_small_plate_missed_at_the_frame_s_size_is_redacted_from_the_enlarged_pass(tmp_path, platedet_detectors):
    detectors = platedet_detectors
    src, truth = _plate_clip(tmp_path / "car.mp4")
    dst = tmp_path / "out" / "car.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(plate_fine="platedet"), detectors)
    assert report.status == "published" and report.detections["plate_fine"] >= 1
    assert report.fine["plate"]["enlarged"] is True
    assert_unreadable(src, dst, truth, kinds=("plate",))
    # The same pass at the frame's own size (--small-objects native) leaks it on every frame: the test can fail.
    off = tmp_path / "off" / "car.mp4"
    report = anonymise_file(src, off, AnonymiseSettings(plate_fine="platedet", small_objects="native"), detectors)
    assert report.fine["plate"]["enlarged"] is False
    with pytest.raises(AssertionError):
        assert_unreadable(src, off, truth, kinds=("plate",))


def test_platenet_redacts_that_plate_at_the_frame_s_own_size(tmp_path, platenet_detectors):
    """The plate platedet and clpdet miss at 720p without enlarging the frame: platenet (``plate_fine platenet``)
    finds it at the frame's own size, and nothing is enlarged."""
    src, truth = _plate_clip(tmp_path / "car.mp4")
    dst = tmp_path / "out" / "car.mp4"
    report = anonymise_file(src, dst, AnonymiseSettings(plate_fine="platenet"), platenet_detectors)
    assert report.status == "published" and report.detections["plate_fine"] >= 1
    assert report.fine["plate"]["enlarged"] is False
    assert_unreadable(src, dst, truth, kinds=("plate",))


@pytest.mark.parametrize("size, rotation, enlarged", [
    ((1280, 720), 0, True), ((1920, 1080), 0, True), ((1080, 1920), 0, True), ((1920, 1080), 90, True),
    ((2560, 1920), 0, True), ((3840, 2160), 0, True), ((2160, 3840), -90, True), ((4096, 2160), 0, True), ((7680, 4320), 0, False),
])
def test_the_plates_full_resolution_pass_is_enlarged_up_to_4k(size, rotation, enlarged):
    """Up to 4096 px on the long side (DCI 4K) in either orientation (8K: the frame's own size), plates only."""
    fd = FrameDetector({}, *size, rotation=rotation)
    kinds = enlarged_for(fd.display_w, fd.display_h, ("face", "plate"))
    assert kinds == (("plate",) if enlarged else ())
    assert enlarged_for(fd.display_w, fd.display_h, ("face",)) == ()


# clpdet's budget at 3x (detection.FINE_SECOND_ENLARGE): its tiles, enlarged, no larger than platedet's at 2x
SMALLER = FINE_SECOND_TILE_PIXELS


@given(st.integers(32, 4096), st.integers(32, 4096), st.sampled_from([FINE_TILE_PIXELS, SMALLER]), st.data())
def test_the_enlarged_pass_cuts_a_large_picture_in_tiles_and_keeps_every_small_box_whole(w, h, pixels, data):
    """Tiles together covering the picture, each at most 1.25 ``pixels`` (FINE_TILE_PIXELS, 1080p: two; 4K: nine;
    or clpdet's smaller budget) unless the picture itself is one tile (up to ``pixels``) or the overlap needs more;
    any box at most ENLARGE_OVERLAP on a side lies wholly inside a tile."""
    tiles = grid_tiles(w, h, *fine_tile(w, h, pixels), ENLARGE_OVERLAP)
    covered = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in tiles:
        covered[y1:y2, x1:x2] = True
        assert (x2 - x1) * (y2 - y1) <= max(1.25 * pixels, (ENLARGE_OVERLAP + 2) ** 2, w * h if w * h <= pixels else 0)
    assert covered.all()
    if w * h <= pixels:
        assert tiles.tolist() == [[0, 0, w, h]]
    bw = data.draw(st.integers(1, min(w, ENLARGE_OVERLAP)))
    bh = data.draw(st.integers(1, min(h, ENLARGE_OVERLAP)))
    x, y = data.draw(st.integers(0, w - bw)), data.draw(st.integers(0, h - bh))
    assert any(x1 <= x and y1 <= y and x + bw <= x2 and y + bh <= y2 for x1, y1, x2, y2 in tiles)


@pytest.mark.parametrize("size, count", [((1920, 1080), 2), ((1080, 1920), 2), ((1280, 720), 1), ((3840, 2160), 9)])
def test_how_many_tiles_a_frame_is_enlarged_in(size, count):
    assert len(grid_tiles(*size, *fine_tile(*size), ENLARGE_OVERLAP)) == count


def test_a_long_thin_picture_is_tiled_along_its_length_without_error():
    """Found by the property above in a fresh-clone CI run: a picture narrower than the overlap but larger than the
    pixel budget (103 x 4066 at clpdet's 3x budget) asked ``grid_tiles`` for tiles thinner than it allows."""
    tiles = grid_tiles(103, 4066, *fine_tile(103, 4066, SMALLER), ENLARGE_OVERLAP)
    assert len(tiles) > 1 and tiles[:, 1].min() == 0 and tiles[:, 3].max() == 4066 and tiles[:, 2].max() == 103
