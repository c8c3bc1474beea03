"""platenet, the project's own plate detector: its decoding (pure), its training recipe (the picture generator, the
targets, a short training run) and the committed model on a real 1080p frame."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizer.inference.platenet import STRIDE, decode, peaks
from anonymizer.training import plates as gen


def _outputs(g_h, g_w):
    return np.zeros((1, 1, g_h, g_w), np.float32), np.zeros((1, 4, g_h, g_w), np.float32)


def test_decode_gives_the_box_of_each_peak_cell_in_input_pixels():
    heat, ltrb = _outputs(20, 30)
    heat[0, 0, 5, 10] = 0.9
    heat[0, 0, 5, 11] = 0.6  # a neighbour of the peak: not a second plate
    ltrb[0, :, 5, 10] = [12, 3, 8, 5]
    heat[0, 0, 15, 25] = 0.25  # under the threshold
    found = decode(heat, ltrb, 0.3)
    cx, cy = (10 + 0.5) * STRIDE, (5 + 0.5) * STRIDE
    assert found.xyxy.tolist() == [[cx - 12, cy - 3, cx + 8, cy + 5]]
    assert found.scores.tolist() == pytest.approx([0.9])
    assert len(decode(heat, ltrb, 0.95)) == 0


@given(st.lists(st.tuples(st.integers(1, 38), st.integers(1, 38)), min_size=1, max_size=6, unique=True))
def test_peaks_are_local_maxima_and_every_isolated_cell_is_one(cells):
    heat = np.zeros((40, 40), np.float32)
    for i, (y, x) in enumerate(cells):
        heat[y, x] = 0.5 + 0.01 * i
    ys, xs = peaks(heat, 0.3)
    found = set(zip(ys.tolist(), xs.tolist()))
    for y, x in found:
        assert heat[y, x] == heat[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].max()
    isolated = {c for c in cells if all(max(abs(c[0] - o[0]), abs(c[1] - o[1])) > 1 for o in cells if o != c)}
    assert isolated <= found


def test_targets_peak_at_the_plate_centre_and_regress_its_sides():
    pytest.importorskip("torch")
    from anonymizer.training.platenet import targets

    box = np.array([[40.0, 100.0, 88.0, 112.0]], np.float32)  # a 48 x 12 px plate
    heat, ltrb, weight, care = targets(box, 256, ignore=np.array([[150.0, 150.0, 200.0, 170.0]], np.float32))
    iy, ix = np.unravel_index(int(np.argmax(heat)), heat.shape)
    assert heat[iy, ix] == 1.0 and (heat == 1.0).sum() == 1
    cx, cy = (ix + 0.5) * STRIDE, (iy + 0.5) * STRIDE
    assert 40 < cx < 88 and 100 < cy < 112
    assert ltrb[:, iy, ix].tolist() == pytest.approx([cx - 40, cy - 100, 88 - cx, 112 - cy])
    assert weight[iy, ix] > 0 and weight[heat == 0].sum() == 0
    assert care[160 // STRIDE, 170 // STRIDE] == 0 and care[iy, ix] == 1 and care[5, 5] == 1


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 2**32 - 1))
def test_the_generator_draws_plates_inside_the_picture_where_their_boxes_say(seed):
    rng = np.random.default_rng(seed)
    backgrounds = [np.full((300, 400, 3), 90, np.uint8)]
    rgb, boxes = gen.sample(rng, backgrounds, 256)
    assert rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
    assert boxes.shape[1] == 4
    assert (boxes >= 0).all() and (boxes <= 256).all()
    assert ((boxes[:, 2] - boxes[:, 0]) >= 6).all()


def test_a_drawn_plate_is_where_its_box_is():
    """The same picture with and without its plates differs inside every box (the plate is there)."""
    for seed in range(20):
        backgrounds = [np.full((300, 400, 3), 90, np.uint8)]
        rgb, boxes = gen.sample(np.random.default_rng(seed), backgrounds, 256, plates=(1, 3))
        for x1, y1, x2, y2 in boxes.astype(int):
            patch = rgb[y1:y2, x1:x2].astype(np.float32)
            assert patch.std() > 0.5 or abs(patch.mean() - rgb.mean()) > 1, (seed, (x1, y1, x2, y2))


def test_a_short_training_run_lowers_the_loss():
    pytest.importorskip("torch")
    import torch

    from anonymizer.training.platenet import PlateNet, train

    torch.set_num_threads(1)
    backgrounds = [np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)]
    _, losses = train(backgrounds, steps=60, batch_size=8, size=128, lr=4e-3, workers=0, model=PlateNet(),
                      log_every=0)
    assert np.mean(losses[-10:]) < 0.85 * np.mean(losses[:5])


def test_exported_model_runs_in_onnx_runtime_with_any_multiple_of_32(tmp_path):
    pytest.importorskip("torch")
    from anonymizer.inference.platenet import PlateNetDetector
    from anonymizer.inference.session import make_session
    from anonymizer.training.platenet import PlateNet, export

    export(PlateNet(), tmp_path / "p.onnx")
    det = PlateNetDetector(make_session(tmp_path / "p.onnx", threads=1), 0.5)
    for shape in ((100, 130, 3), (1080, 1920, 3)):
        found = det.detect_native(np.zeros(shape, np.uint8))
        assert (found.xyxy[:, 2] <= shape[1]).all() if len(found) else True


@pytest.mark.slow
@pytest.mark.parametrize("text, width, spot", [("ABC1D23", 40, (300, 700)), ("RKT4E07", 44, (1500, 240)),
                                                ("XYZ9H88", 60, (900, 880))])
def test_the_committed_model_finds_a_40_to_60_px_plate_in_a_1080p_frame_at_its_own_size(models_ready, text, width,
                                                                                         spot):
    """The scene renderer's plate (not the training generator's) on a car, 40-60 px wide, on a real 1080p
    background: platenet at its manifest threshold finds it, with no enlarging; the bare background has no box
    there."""
    from anonymizer.domain.geometry import iou_matrix
    from anonymizer.imaging.scene import background, paste, plate_sprite
    from anonymizer.inference.manifest import installed, load_manifest
    from anonymizer.inference.platenet import PlateNetDetector
    from anonymizer.inference.session import make_session

    spec = load_manifest()["platenet"]
    det = PlateNetDetector(make_session(installed(spec).path, threads=1), spec.threshold)
    frame = background(1920, 1080).copy()
    truth = paste(frame, plate_sprite(text, plate_width=width), *spot)
    found = det.detect_native(frame)
    assert len(found) and iou_matrix(np.array([truth], np.float32), found.xyxy).max() >= 0.3, found.xyxy
    bare = det.detect_native(background(1920, 1080))
    assert not len(bare) or iou_matrix(np.array([truth], np.float32), bare.xyxy).max() < 0.1
