"""Above 1080p the full-resolution pass's run at the frame's own size is cut in overlapping tiles
(``detection.run_own_size``), bounding the detectors' activations (real models, real face and plate sprites)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizer.domain.geometry import grid_tiles, iou_matrix
from anonymizer.imaging.scene import background, face_sprite, paste, plate_sprite
from anonymizer.inference.pictures import NATIVE_OVERLAP, NATIVE_TILE_PIXELS, fine_tile
from anonymizer.pipelines.detection import run_native, run_own_size


class Recording:
    """Wraps an ONNX Runtime session: the (height, width) of every input image it is given."""

    def __init__(self, session):
        self.session, self.shapes = session, []

    def run(self, names, feeds):
        self.shapes.append(next(iter(feeds.values())).shape[2:])
        return self.session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.fixture
def recorded_face(detectors, monkeypatch):
    face = detectors["face"]
    rec = Recording(face.detector.session)
    monkeypatch.setattr(face.detector, "session", rec)
    return face, rec


@given(st.integers(64, 8192), st.integers(64, 8192), st.data())
def test_own_size_tiles_cover_the_picture_keep_objects_whole_and_are_bounded(w, h, data):
    """One tile (the picture) up to NATIVE_TILE_PIXELS (1080p, in either orientation), otherwise tiles of at most
    1.25 times it covering the picture, any object up to NATIVE_OVERLAP on a side wholly inside one of them."""
    tiles = grid_tiles(w, h, *fine_tile(w, h, NATIVE_TILE_PIXELS, NATIVE_OVERLAP), NATIVE_OVERLAP)
    if w * h <= NATIVE_TILE_PIXELS:
        assert tiles.tolist() == [[0, 0, w, h]]
    covered = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in tiles:
        covered[y1:y2, x1:x2] = True
        assert (x2 - x1) * (y2 - y1) <= max(1.25 * NATIVE_TILE_PIXELS, (NATIVE_OVERLAP + 2) ** 2, w * h if w * h <= NATIVE_TILE_PIXELS else 0)
    assert covered.all()
    bw, bh = data.draw(st.integers(1, min(w, NATIVE_OVERLAP))), data.draw(st.integers(1, min(h, NATIVE_OVERLAP)))
    x, y = data.draw(st.integers(0, w - bw)), data.draw(st.integers(0, h - bh))
    assert any(x1 <= x and y1 <= y and x + bw <= x2 and y + bh <= y2 for x1, y1, x2, y2 in tiles)


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1280, 720)])
def test_up_to_1080p_the_own_size_run_is_one_run_on_the_whole_frame(recorded_face, size):
    face, rec = recorded_face
    rgb = background(*size)
    found = run_own_size(face, rgb)
    assert rec.shapes == [(-(-size[1] // 32) * 32, -(-size[0] // 32) * 32)]
    whole = run_native(face, rgb)
    assert np.array_equal(found.xyxy, whole.xyxy)


@pytest.mark.slow
def test_at_4k_the_tiled_run_finds_faces_and_plates_on_the_seams_and_inside_tiles(detectors, recorded_face):
    """Faces of 40 px and plates of 160 px (smaller plates are the enlarged run's) pasted across the tiles' seams (in their overlap), at a tile's edge and
    inside a tile of a 4K frame: each is found by the tiled run, in the frame's pixels, and no detector input is
    larger than a tile (the whole frame's would be 3840x2176)."""
    face_det, rec = recorded_face
    rgb = background(3840, 2160).copy()
    tiles = grid_tiles(3840, 2160, *fine_tile(3840, 2160, NATIVE_TILE_PIXELS, NATIVE_OVERLAP), NATIVE_OVERLAP)
    assert len(tiles) == 4
    seam_x = int(tiles[1][0] + NATIVE_OVERLAP // 2)  # the middle of the vertical overlap band
    seam_y = int(tiles[2][1] + NATIVE_OVERLAP // 2)
    sprite = face_sprite()
    face = sprite.scaled(40 / (sprite.box[2] - sprite.box[0]))
    plate = plate_sprite(plate_width=160)
    truth = {"face": [], "plate": []}
    for kind, sp, spots in (("face", face, [(seam_x - 20, 400), (800, seam_y - 20), (seam_x - 20, seam_y - 20), (3000, 1700)]),
                            ("plate", plate, [(seam_x - 80, 700), (1200, seam_y - 24), (600, 300)])):
        for x, y in spots:
            ox, oy = x - sp.box[0], y - sp.box[1]  # the object's top-left at (x, y)
            box = paste(rgb, sp, ox, oy)
            assert box is not None
            truth[kind].append(box)
    found = {"face": run_own_size(face_det, rgb), "plate": run_own_size(detectors["plate"], rgb)}
    limit = 1.25 * NATIVE_TILE_PIXELS + 32 * (3840 + 2160)  # a tile, padded to multiples of 32
    assert rec.shapes and all(hh * ww <= limit for hh, ww in rec.shapes)
    for kind, boxes in truth.items():
        best = iou_matrix(np.array(boxes, np.float32), found[kind].xyxy).max(axis=1) if len(found[kind]) else np.zeros(len(boxes))
        assert (best >= 0.4).all(), (kind, boxes, best.tolist())
